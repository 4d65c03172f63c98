"""spec.network's plugin settings: validated with their field paths."""

from __future__ import annotations

from typing import Any

import pytest

from kubexms.config import ConfigError, parse_config
from tests.unit.config.sample import to_yaml
from tests.unit.kubernetes.sample import cluster_data


def issues(network: dict[str, Any]) -> list[tuple[str, str]]:
    data = cluster_data()
    data["spec"]["network"] = network
    with pytest.raises(ConfigError) as caught:
        parse_config(to_yaml(data))
    return [(issue.path, issue.message) for issue in caught.value.issues]


def network(values: dict[str, Any]) -> Any:
    data = cluster_data()
    data["spec"]["network"] = values
    return parse_config(to_yaml(data)).spec.network


def test_defaults() -> None:
    defaults = network({})
    assert defaults.plugin == "calico"
    assert (defaults.calico.mode, defaults.calico.mtu) == ("vxlan", 0)
    assert defaults.flannel.backend == "vxlan"
    assert defaults.cilium.kube_proxy_replacement is False


def test_settings_are_read() -> None:
    calico = network({"calico": {"mode": "none", "mtu": 8950}}).calico
    assert (calico.mode, calico.mtu) == ("none", 8950)
    flannel = network({"plugin": "flannel", "flannel": {"backend": "wireguard"}}).flannel
    assert flannel.backend == "wireguard"
    cilium = network({"plugin": "cilium", "cilium": {"kubeProxyReplacement": True}}).cilium
    assert cilium.kube_proxy_replacement is True


def test_an_unknown_mode_names_its_path() -> None:
    ((path, message),) = issues({"calico": {"mode": "bgp"}})
    assert path == "spec.network.calico.mode"
    assert "'vxlan', 'ipip' or 'none'" in message


@pytest.mark.parametrize("mtu", [1, 575, 9217, -1])
def test_an_mtu_out_of_range_names_its_path(mtu: int) -> None:
    assert issues({"calico": {"mtu": mtu}}) == [
        ("spec.network.calico.mtu", "must be 0 (detect it) or between 576 and 9216")
    ]


def test_a_quoted_mtu_is_not_a_number() -> None:
    ((path, _),) = issues({"calico": {"mtu": "1400"}})
    assert path == "spec.network.calico.mtu"


def test_an_unknown_flannel_backend_names_its_path() -> None:
    ((path, _),) = issues({"plugin": "flannel", "flannel": {"backend": "udp"}})
    assert path == "spec.network.flannel.backend"


def test_a_misspelt_setting_names_its_path() -> None:
    ((path, _),) = issues({"calico": {"encapsulation": "vxlan"}})
    assert path == "spec.network.calico.encapsulation"


@pytest.mark.parametrize(
    ("plugin", "other", "settings"),
    [
        ("flannel", "calico", {"mode": "ipip"}),
        ("calico", "cilium", {"kubeProxyReplacement": True}),
        ("cilium", "flannel", {"backend": "host-gw"}),
    ],
)
def test_settings_of_a_plugin_not_in_use_are_refused(
    plugin: str, other: str, settings: dict[str, object]
) -> None:
    assert issues({"plugin": plugin, other: settings}) == [
        (f"spec.network.{other}", f"applies to the {other} plugin, but network.plugin is {plugin}")
    ]


@pytest.mark.parametrize("other", ["calico", "flannel", "cilium"])
def test_default_settings_of_another_plugin_are_harmless(other: str) -> None:
    # A complete dump of a cluster file writes every plugin's section with its defaults.
    plugin = "flannel" if other == "calico" else "calico"
    assert network({"plugin": plugin, other: {}}).plugin == plugin
