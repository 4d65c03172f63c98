"""CNI configuration another plugin left on a host: reported, never merged.

The container runtime loads the first configuration of ``/etc/cni/net.d`` in name order; a
leftover from another plugin (or a runtime's sample bridge) can win over the plugin kubexms
installs, and merging two plugins' configurations is not something either supports.
"""

from __future__ import annotations

from collections.abc import Iterable

CNI_CONFIG_DIR = "/etc/cni/net.d"
CONFIG_SUFFIXES = (".conf", ".conflist", ".json")
"""What libcni loads from the directory; other files (calico-kubeconfig) are not configs."""
PLUGIN_CONFIGS = {
    "calico": frozenset({"10-calico.conflist"}),
    "flannel": frozenset({"10-flannel.conflist"}),
    "cilium": frozenset({"05-cilium.conflist"}),
}
"""The configuration file each plugin's own installer writes."""


def foreign_cni_configs(plugin: str, names: Iterable[str]) -> list[str]:
    """The configurations among ``names`` (a listing of the directory) that ``plugin`` did not
    write, sorted as the runtime reads them."""
    own = PLUGIN_CONFIGS[plugin]
    return sorted(name for name in names if name.endswith(CONFIG_SUFFIXES) and name not in own)


def foreign_cni_message(host: str, plugin: str, foreign: list[str]) -> str:
    """What a user reads about one host's leftovers: which files, and what to do."""
    listed = ", ".join(f"{CNI_CONFIG_DIR}/{name}" for name in foreign)
    return (
        f"{host}: {listed} {'is' if len(foreign) == 1 else 'are'} not {plugin}'s; the container "
        "runtime uses the first configuration in name order, so pods could be wired by another "
        "network. kubexms does not merge them: remove them (and that plugin's interfaces) and "
        "run again"
    )
