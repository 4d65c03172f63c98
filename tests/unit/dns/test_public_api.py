"""The public surface of kubexms.dns, pinned; and it sits below pipelines and the CLI."""

from __future__ import annotations

import subprocess
import sys

import kubexms.dns


def test_dns_names() -> None:
    assert sorted(kubexms.dns.__all__) == [
        "COREDNS_DEPLOYMENT",
        "COREDNS_NAMESPACE",
        "DNS_MANIFEST",
        "DnsManifest",
        "NODE_LOCAL_ADDRESS",
        "NODE_LOCAL_NAME",
        "coredns_deployment",
        "coredns_image",
        "dns_objects",
        "dns_steps",
        "node_local_corefile",
        "node_local_dns_objects",
    ]
    for name in kubexms.dns.__all__:
        assert getattr(kubexms.dns, name) is not None


def test_dns_imports_no_pipeline_or_cli() -> None:
    code = (
        "import sys, kubexms.dns\n"
        "bad = [m for m in sys.modules if m.startswith(('kubexms.cli', 'kubexms.pipelines'))]\n"
        "print(','.join(sorted(bad)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
