"""Another plugin's CNI configuration on a host is reported by name, never merged."""

from __future__ import annotations

import pytest

from kubexms.cni._host_configs import foreign_cni_configs, foreign_cni_message


@pytest.mark.parametrize(
    ("plugin", "listing", "foreign"),
    [
        ("calico", ["10-calico.conflist", "calico-kubeconfig"], []),
        ("calico", [], []),
        ("flannel", ["10-flannel.conflist"], []),
        ("cilium", ["05-cilium.conflist", "10-calico.conflist.cilium_bak"], []),
        (
            "calico",
            ["10-flannel.conflist", "10-calico.conflist", "87-podman-bridge.conflist"],
            ["10-flannel.conflist", "87-podman-bridge.conflist"],
        ),
        (
            "flannel",
            ["10-containerd-net.conflist", "99-loopback.conf"],
            ["10-containerd-net.conflist", "99-loopback.conf"],
        ),
        ("cilium", ["10-calico.conflist", "weave.json"], ["10-calico.conflist", "weave.json"]),
    ],
)
def test_configs_the_plugin_did_not_write_are_foreign(
    plugin: str, listing: list[str], foreign: list[str]
) -> None:
    assert foreign_cni_configs(plugin, listing) == foreign


def test_the_message_names_the_files_and_what_to_do() -> None:
    message = foreign_cni_message("node1", "calico", ["10-flannel.conflist"])
    assert message.startswith("node1: /etc/cni/net.d/10-flannel.conflist is not calico's;")
    assert "does not merge them: remove them" in message
    two = foreign_cni_message("node1", "calico", ["a.conf", "b.conf"])
    assert "/etc/cni/net.d/a.conf, /etc/cni/net.d/b.conf are not calico's" in two
