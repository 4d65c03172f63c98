"""The public surface of kubexms.loadbalancer, pinned; and it sits below pipelines and the CLI."""

from __future__ import annotations

import subprocess
import sys

import kubexms.loadbalancer


def test_loadbalancer_names() -> None:
    assert sorted(kubexms.loadbalancer.__all__) == [
        "Backend",
        "KEEPALIVED_UNIT",
        "KUBE_VIP_IMAGE",
        "LoadBalancerModule",
        "PROXY_UNIT",
        "backends",
        "balancer_hosts",
        "balancer_ports",
        "loadbalancer_host_needs",
        "packages_needed",
        "render_keepalived_config",
        "render_kube_vip_manifest",
        "render_proxy_config",
    ]
    for name in kubexms.loadbalancer.__all__:
        assert getattr(kubexms.loadbalancer, name) is not None


def test_loadbalancer_imports_no_pipeline_cli_or_other_component() -> None:
    code = (
        "import sys, kubexms.loadbalancer\n"
        "bad = [m for m in sys.modules if m.startswith(('kubexms.cli', 'kubexms.pipelines',"
        " 'kubexms.etcd', 'kubexms.hostprep', 'kubexms.containerd'))]\n"
        "print(','.join(sorted(bad)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
