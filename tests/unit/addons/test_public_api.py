"""The public surface of kubexms.addons, pinned; and it sits below pipelines and the CLI."""

from __future__ import annotations

import subprocess
import sys

import kubexms.addons


def test_addons_names() -> None:
    assert sorted(kubexms.addons.__all__) == [
        "ADDONS_DIR",
        "AddonManifest",
        "AddonsModule",
        "addon_dir",
        "chart_on_host",
        "fetched_path",
        "helm_argv",
        "inline_values_yaml",
        "manifest_argvs",
        "manifests_on_host",
        "values_files_on_host",
    ]
    for name in kubexms.addons.__all__:
        assert getattr(kubexms.addons, name) is not None


def test_addons_import_no_pipeline_or_cli() -> None:
    code = (
        "import sys, kubexms.addons\n"
        "bad = [m for m in sys.modules if m.startswith(('kubexms.cli', 'kubexms.pipelines'))]\n"
        "print(','.join(sorted(bad)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
