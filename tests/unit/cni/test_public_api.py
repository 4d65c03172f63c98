"""The public surface of kubexms.cni, pinned; and it sits below pipelines and the CLI."""

from __future__ import annotations

import subprocess
import sys

import kubexms.cni


def test_cni_names() -> None:
    assert sorted(kubexms.cni.__all__) == [
        "ADMIN_KUBECONFIG",
        "APPLIED_ANNOTATION",
        "ApplyFailedError",
        "CALICO_DAEMONSET",
        "CALICO_MANIFEST",
        "CALICO_NAMESPACE",
        "CILIUM_DAEMONSET",
        "CILIUM_NAMESPACE",
        "CILIUM_RELEASE",
        "CNI_CONFIG_DIR",
        "CNI_DIR",
        "CniModule",
        "FLANNEL_DAEMONSET",
        "FLANNEL_MANIFEST",
        "FLANNEL_NAMESPACE",
        "FailingPod",
        "HELM_DESCRIPTION_PREFIX",
        "HelmRelease",
        "HostFile",
        "HostFiles",
        "KubeObject",
        "MANIFEST_COMPONENTS",
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
