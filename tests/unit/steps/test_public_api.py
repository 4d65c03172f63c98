"""The public surface of kubexms.steps, pinned; and it sits below the components."""

from __future__ import annotations

import subprocess
import sys

import kubexms.steps


def test_steps_names() -> None:
    assert sorted(kubexms.steps.__all__) == [
        "ArchiveContentError",
        "ArtifactsModule",
        "ComponentModule",
        "Directory",
        "Health",
        "HostsEntries",
        "PENDING_DIRECTORY",
        "PKIFile",
        "PKIFileError",
        "PlaceArtifact",
        "PlacePKIFiles",
        "PlacesFiles",
        "RELOAD_PENDING_DIRECTORY",
        "RenderContext",
        "RenderedFile",
        "RestartService",
        "SECRET_MARKER",
        "ServiceFile",
        "ServiceFileInvalidError",
        "ServiceUnhealthyError",
        "SystemdService",
        "THIS_HOST",
        "default_mode",
        "distribute",
        "kubeadm_layout",
        "one_after_another",
        "pki_item",
        "pki_items",
        "rolling",
        "wait_healthy",
    ]
    for name in kubexms.steps.__all__:
        assert getattr(kubexms.steps, name) is not None


def test_steps_import_no_component_pipeline_or_cli() -> None:
    code = (
        "import sys, kubexms.steps\n"
        "bad = [m for m in sys.modules if m.startswith(('kubexms.cli', 'kubexms.pipelines',"
        " 'kubexms.etcd', 'kubexms.hostprep', 'kubexms.preflight'))]\n"
        "print(','.join(sorted(bad)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
