"""kubectl's command line: server-side apply of a file on the first master."""

from __future__ import annotations

import pytest

from kubexms.cni import ADMIN_KUBECONFIG, kubectl_apply_argv


def test_apply_is_server_side_with_kubexms_as_field_manager() -> None:
    assert kubectl_apply_argv("/etc/kubexms/cni/calico.yaml") == [
        "/usr/local/bin/kubectl",
        f"--kubeconfig={ADMIN_KUBECONFIG}",
        "apply",
        "--server-side",
        "--field-manager=kubexms",
        "--force-conflicts",
        "-f",
        "/etc/kubexms/cni/calico.yaml",
    ]


def test_a_relative_manifest_path_is_refused() -> None:
    with pytest.raises(ValueError, match="the manifest must be an absolute path"):
        kubectl_apply_argv("calico.yaml")
