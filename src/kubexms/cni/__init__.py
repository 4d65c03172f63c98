"""The pod network (phase ``cni``): what kubexms applies for each plugin, rendered from the
cluster file and the plugin's pinned upstream manifest or chart (no host touched here).

``_calico`` and ``_flannel`` change the upstream manifests on their parsed objects
(``_objects``); ``_cilium`` renders the Helm values; ``_tools`` builds the kubectl and helm
command lines; ``_sources`` reads the upstream manifest from the artifact store once its
sha256 matches; ``_host_configs`` finds another plugin's configuration on a host (reported, not
merged); ``_diagnostics`` explains nodes not Ready from kubectl's JSON; ``_record`` keeps
what the network was created with so a later run cannot change the pod CIDR of an existing
cluster.
"""

from kubexms.cni._applied import APPLIED_ANNOTATION, HELM_DESCRIPTION_PREFIX
from kubexms.cni._apply_steps import (
    ApplyFailedError,
    HelmRelease,
    HostFile,
    HostFiles,
    ServerSideApply,
    UploadFile,
)
from kubexms.cni._calico import (
    CALICO_DAEMONSET,
    CALICO_MANIFEST,
    CALICO_NAMESPACE,
    calico_manifest,
    calico_objects,
)
from kubexms.cni._cilium import (
    CILIUM_DAEMONSET,
    CILIUM_NAMESPACE,
    CILIUM_RELEASE,
    cilium_helm_argv,
    cilium_values,
    cilium_values_yaml,
)
from kubexms.cni._diagnostics import (
    FailingPod,
    NodeNotReady,
    failing_pods,
    nodes_not_ready,
    not_ready_report,
)
from kubexms.cni._errors import ManifestError
from kubexms.cni._flannel import (
    FLANNEL_DAEMONSET,
    FLANNEL_MANIFEST,
    FLANNEL_NAMESPACE,
    flannel_manifest,
    flannel_objects,
)
from kubexms.cni._host_configs import CNI_CONFIG_DIR, foreign_cni_configs, foreign_cni_message
from kubexms.cni._module import CNI_DIR, CniModule, NoForeignCniConfig, PluginManifest
from kubexms.cni._objects import KubeObject, daemonset_selectors, dump_objects, load_objects
from kubexms.cni._record import (
    NetworkRecord,
    NetworkRecordError,
    check_network_unchanged,
    network_change_problems,
)
from kubexms.cni._sources import (
    MANIFEST_COMPONENTS,
    calico_manifest_from_archive,
    manifest_version,
    stored_manifest,
)
from kubexms.cni._tools import (
    ADMIN_KUBECONFIG,
    helm_upgrade_argv,
    kubectl_apply_argv,
    kubectl_get_json_argv,
    kubectl_rollout_status_argv,
)
from kubexms.cni._wait import NetworkNotReadyError, NetworkReady

__all__ = [
    "ADMIN_KUBECONFIG",
    "APPLIED_ANNOTATION",
    "CALICO_DAEMONSET",
    "CALICO_MANIFEST",
    "CALICO_NAMESPACE",
    "CILIUM_DAEMONSET",
    "CILIUM_NAMESPACE",
    "CILIUM_RELEASE",
    "CNI_CONFIG_DIR",
    "CNI_DIR",
    "FLANNEL_DAEMONSET",
    "FLANNEL_MANIFEST",
    "FLANNEL_NAMESPACE",
    "HELM_DESCRIPTION_PREFIX",
    "MANIFEST_COMPONENTS",
    "ApplyFailedError",
    "CniModule",
    "FailingPod",
    "HelmRelease",
    "HostFile",
    "HostFiles",
    "KubeObject",
    "ManifestError",
    "NetworkNotReadyError",
    "NetworkReady",
    "NetworkRecord",
    "NetworkRecordError",
    "NoForeignCniConfig",
    "NodeNotReady",
    "PluginManifest",
    "ServerSideApply",
    "UploadFile",
    "calico_manifest",
    "calico_manifest_from_archive",
    "calico_objects",
    "check_network_unchanged",
    "cilium_helm_argv",
    "cilium_values",
    "cilium_values_yaml",
    "daemonset_selectors",
    "dump_objects",
    "failing_pods",
    "flannel_manifest",
    "flannel_objects",
    "foreign_cni_configs",
    "foreign_cni_message",
    "helm_upgrade_argv",
    "kubectl_apply_argv",
    "kubectl_get_json_argv",
    "kubectl_rollout_status_argv",
    "load_objects",
    "manifest_version",
    "network_change_problems",
    "nodes_not_ready",
    "not_ready_report",
    "stored_manifest",
]
