"""The pod network (phase ``cni``): what kubexms applies for each plugin, rendered from the
cluster file and the plugin's pinned upstream manifest or chart (no host touched here).

``_calico`` and ``_flannel`` change the upstream manifests on their parsed objects
(``_objects``); ``_cilium`` renders the Helm values; ``_tools`` builds the kubectl and helm
command lines; ``_record`` keeps what the network was created with so a later run cannot
change the pod CIDR of an existing cluster.
"""

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
from kubexms.cni._errors import ManifestError
from kubexms.cni._flannel import (
    FLANNEL_DAEMONSET,
    FLANNEL_MANIFEST,
    FLANNEL_NAMESPACE,
    flannel_manifest,
    flannel_objects,
)
from kubexms.cni._objects import KubeObject, dump_objects, load_objects
from kubexms.cni._record import (
    NetworkRecord,
    NetworkRecordError,
    check_network_unchanged,
    network_change_problems,
)
from kubexms.cni._tools import ADMIN_KUBECONFIG, helm_upgrade_argv, kubectl_apply_argv

__all__ = [
    "ADMIN_KUBECONFIG",
    "CALICO_DAEMONSET",
    "CALICO_MANIFEST",
    "CALICO_NAMESPACE",
    "CILIUM_DAEMONSET",
    "CILIUM_NAMESPACE",
    "CILIUM_RELEASE",
    "FLANNEL_DAEMONSET",
    "FLANNEL_MANIFEST",
    "FLANNEL_NAMESPACE",
    "KubeObject",
    "ManifestError",
    "NetworkRecord",
    "NetworkRecordError",
    "calico_manifest",
    "calico_objects",
    "check_network_unchanged",
    "cilium_helm_argv",
    "cilium_values",
    "cilium_values_yaml",
    "dump_objects",
    "flannel_manifest",
    "flannel_objects",
    "helm_upgrade_argv",
    "kubectl_apply_argv",
    "load_objects",
    "network_change_problems",
]
