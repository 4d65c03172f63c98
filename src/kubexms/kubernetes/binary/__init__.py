"""Binary mode (``spec.kubernetes.type: kubexm``): the control plane and nodes as systemd services.

``_flags`` holds each component's flag list per Kubernetes minor (data files in ``flags/``,
each naming its upstream source) and checks ``extraArgs`` against it; ``_args`` is each
component's command line (kubexms's defaults, the user's ``extraArgs`` over them); ``_configs``
the kubelet, kube-proxy and scheduler configuration files; ``_units`` the systemd units;
``_encryption`` the encryption-at-rest configuration (key made and kept on this machine);
``_objects`` what kubeadm would create in the cluster, applied by ``_apply``; ``_services`` the
service steps (and who reads which PKI file); ``_module`` the phases ``control-plane`` and
``workers`` of this mode.
"""

from kubexms.kubernetes.binary._apply import (
    ApplyClusterObjects,
    apply_argv,
    cluster_objects_manifest,
)
from kubexms.kubernetes.binary._args import (
    PINNED,
    apiserver_args,
    check_extra_args,
    controller_manager_args,
    extra_args_problems,
    kube_proxy_args,
    kubelet_args,
    scheduler_args,
)
from kubexms.kubernetes.binary._configs import (
    binary_kube_proxy_configuration,
    binary_kubelet_configuration,
    scheduler_configuration,
)
from kubexms.kubernetes.binary._encryption import (
    EncryptionConfigError,
    EncryptionKey,
    encryption_config,
    encryption_directory,
    ensure_encryption_config,
)
from kubexms.kubernetes.binary._flags import COMPONENTS, component_flags
from kubexms.kubernetes.binary._module import (
    BinaryControlPlaneModule,
    BinaryWorkersModule,
    master_pki_files,
    node_pki_files,
)
from kubexms.kubernetes.binary._objects import bootstrap_objects, corefile, to_manifest
from kubexms.kubernetes.binary._units import render_unit, systemd_quote

__all__ = [
    "COMPONENTS",
    "PINNED",
    "ApplyClusterObjects",
    "BinaryControlPlaneModule",
    "BinaryWorkersModule",
    "EncryptionConfigError",
    "EncryptionKey",
    "apiserver_args",
    "apply_argv",
    "binary_kube_proxy_configuration",
    "binary_kubelet_configuration",
    "bootstrap_objects",
    "check_extra_args",
    "cluster_objects_manifest",
    "component_flags",
    "controller_manager_args",
    "corefile",
    "encryption_config",
    "encryption_directory",
    "ensure_encryption_config",
    "extra_args_problems",
    "kube_proxy_args",
    "kubelet_args",
    "master_pki_files",
    "node_pki_files",
    "render_unit",
    "scheduler_args",
    "scheduler_configuration",
    "systemd_quote",
    "to_manifest",
]
