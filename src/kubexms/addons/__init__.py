"""Add-ons (phase ``addons``): what runs on the first master for each ``spec.addons`` entry,
rendered from the cluster file, and ``AddonsModule``, the phase itself."""

from kubexms.addons._commands import (
    ADDONS_DIR,
    addon_dir,
    chart_on_host,
    helm_argv,
    inline_values_yaml,
    manifest_argvs,
    manifests_on_host,
    values_files_on_host,
)
from kubexms.addons._module import AddonManifest, AddonsModule, fetched_path

__all__ = [
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
