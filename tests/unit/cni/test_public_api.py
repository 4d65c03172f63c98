"""The public surface of kubexms.cni, pinned; and it sits below pipelines and the CLI."""

from __future__ import annotations

import subprocess
import sys

import kubexms.cni


def test_cni_names() -> None:
    assert sorted(kubexms.cni.__all__) == [
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
    for name in kubexms.cni.__all__:
        assert getattr(kubexms.cni, name) is not None


def test_cni_imports_no_pipeline_cli_or_other_component() -> None:
    code = (
        "import sys, kubexms.cni\n"
        "bad = [m for m in sys.modules if m.startswith(('kubexms.cli', 'kubexms.pipelines',"
        " 'kubexms.etcd', 'kubexms.hostprep', 'kubexms.containerd', 'kubexms.loadbalancer',"
        " 'kubexms.kubernetes'))]\n"
        "print(','.join(sorted(bad)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
