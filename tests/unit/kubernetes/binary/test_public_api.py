"""The public names of kubexms.kubernetes.binary, pinned so a change to them is deliberate."""

from __future__ import annotations

import kubexms.kubernetes.binary

EXPECTED = {
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
}


def test_all_is_exactly_the_public_api() -> None:
    assert set(kubexms.kubernetes.binary.__all__) == EXPECTED
