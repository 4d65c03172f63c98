"""Any valid cluster survives dump_config and parse_config unchanged (property-based)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubexms.config import Cluster, dump_config, parse_config

_LOWER = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"
# A DNS-1123 label, built rather than regex-generated because that is several times faster.
_LABEL = st.builds(
    lambda first, middle, last: first + middle + last,
    st.sampled_from(_LOWER),
    st.text(alphabet=_LOWER + _DIGITS + "-", max_size=12),
    st.sampled_from(_LOWER + _DIGITS),
)
_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40).filter(
    lambda text: text.strip() != "" and "${" not in text
)
_SECRET_KEY = st.lists(_TEXT, min_size=1, max_size=4).map(lambda lines: "\n".join(lines) + "\n")
_PATH = st.sampled_from(["/root/.ssh/id_ed25519", "~/.ssh/id_rsa", "keys/node", "/k"])
_USER = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(_LOWER + "_"),
    st.text(alphabet=_LOWER + _DIGITS + "_-", max_size=10),
)
_PORT = st.integers(min_value=1, max_value=65535)
_SECONDS = st.one_of(
    st.integers(min_value=1, max_value=100_000),
    st.floats(min_value=0.001, max_value=1e6, allow_nan=False, allow_infinity=False),
)


@st.composite
def _auth(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["none", "password", "privateKeyPath", "privateKey"]))
    if kind == "none":
        return {}
    value = {"password": _TEXT, "privateKeyPath": _PATH, "privateKey": _SECRET_KEY}[kind]
    return {kind: draw(value)}


@st.composite
def _bastion(draw: st.DrawFn) -> dict[str, Any]:
    bastion: dict[str, Any] = {"address": draw(st.sampled_from(["10.213.9.1", "jump.example"]))}
    if draw(st.booleans()):
        bastion["port"] = draw(_PORT)
    if draw(st.booleans()):
        bastion["user"] = draw(_USER)
    bastion.update(draw(_auth()))
    return bastion


@st.composite
def _host(draw: st.DrawFn, name: str, index: int, local: bool) -> dict[str, Any]:
    host: dict[str, Any] = {"name": name, "address": f"10.213.{index // 250}.{index % 250 + 1}"}
    optional: dict[str, st.SearchStrategy[Any]] = {
        "internalAddress": st.sampled_from(["192.168.0.1", "node.internal", "fd00::1"]),
        "port": _PORT,
        "user": _USER,
        "sudoPassword": _TEXT,
        "arch": st.sampled_from(["amd64", "arm64"]),
        "labels": st.dictionaries(_LABEL, st.one_of(_LABEL, st.just("")), max_size=3),
        "bastion": st.one_of(st.none(), _bastion()),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            host[key] = draw(strategy)
    host.update(draw(_auth()))
    if local:
        host["connector"] = "local"
    return host


@st.composite
def _global(draw: st.DrawFn) -> dict[str, Any]:
    optional: dict[str, st.SearchStrategy[Any]] = {
        "user": _USER,
        "port": _PORT,
        "sudoPassword": _TEXT,
        "bastion": _bastion(),
        "connectionTimeout": _SECONDS,
        "commandTimeout": _SECONDS,
        "connectConcurrency": st.integers(min_value=1, max_value=1000),
        "concurrency": st.integers(min_value=1, max_value=1000),
        "workDir": _PATH,
        "hostKeyPolicy": st.sampled_from(["strict", "accept-new", "off"]),
        "knownHostsPath": _PATH,
        "keepaliveInterval": st.one_of(st.just(0), _SECONDS),
    }
    settings_: dict[str, Any] = {}
    for key, strategy in optional.items():
        if draw(st.booleans()):
            settings_[key] = draw(strategy)
    settings_.update(draw(_auth()))
    return settings_


def _compress(names: list[str], numbered: bool) -> list[str]:
    """Role-group entries: plain names, or `node[01:NN]` ranges for consecutive numbered hosts."""
    if not numbered or len(names) < 2:
        return names
    numbers = [int(name.removeprefix("node")) for name in names]
    if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        return names
    return [f"node[{numbers[0]:02d}:{numbers[-1]:02d}]"]


@st.composite
def clusters(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(min_value=1, max_value=8))
    numbered = draw(st.booleans())
    if numbered:
        names = [f"node{number:02d}" for number in range(1, count + 1)]
    else:
        names = draw(st.lists(_LABEL, min_size=count, max_size=count, unique=True))
    local_index = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=count - 1)))
    hosts = [draw(_host(name, index, index == local_index)) for index, name in enumerate(names)]

    masters = sorted(draw(st.sets(st.sampled_from(range(count)), min_size=1)))
    etcd = sorted(draw(st.sets(st.sampled_from(range(count)), min_size=1)))
    workers = [index for index in range(count) if index not in masters and index not in etcd]
    workers += draw(st.lists(st.sampled_from(range(count)), unique=True))
    groups = {
        "master": _compress([names[i] for i in masters], numbered),
        "etcd": _compress([names[i] for i in etcd], numbered),
        "worker": _compress([names[i] for i in sorted(set(workers))], numbered),
    }
    spec: dict[str, Any] = {"hosts": hosts, "roleGroups": groups}
    if draw(st.booleans()):
        spec["global"] = draw(_global())
    if len(masters) > 1 or draw(st.booleans()):
        spec["controlPlaneEndpoint"] = {
            "domain": draw(st.sampled_from(["lb.kubexms.local", "api.example.com"])),
            "port": draw(_PORT),
            "loadBalancer": {
                "type": draw(st.sampled_from(["internal", "none"])),
                "kind": draw(st.sampled_from(["haproxy", "nginx"])),
            },
        }
    if draw(st.booleans()):
        major, minor, patch = draw(st.tuples(*[st.integers(0, 40)] * 3))
        spec["kubernetes"] = {
            "type": draw(st.sampled_from(["kubeadm", "kubexm"])),
            "version": f"v{major}.{minor}.{patch}",
            "kubeProxy": {"mode": draw(st.sampled_from(["iptables", "ipvs"]))},
            "kubelet": {"extraArgs": draw(st.dictionaries(_LABEL, _LABEL, max_size=2))},
        }
    if draw(st.booleans()):
        pods, services = draw(
            st.sampled_from(
                [("10.233.64.0/18", "10.233.0.0/18"), ("10.244.0.0/16", "10.96.0.0/12")]
            )
        )
        spec["network"] = {
            "plugin": draw(st.sampled_from(["calico", "flannel", "cilium"])),
            "kubePodsCIDR": pods,
            "kubeServiceCIDR": services,
        }
    if draw(st.booleans()):
        spec["registry"] = {
            "privateRegistry": "registry.example.com:5000",
            "auths": {"registry.example.com:5000": {"username": "u", "password": draw(_TEXT)}},
        }
    return {
        "apiVersion": "kubexms.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": draw(_LABEL)},
        "spec": spec,
    }


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters())
def test_dump_then_parse_gives_an_equal_cluster(data: dict[str, Any]) -> None:
    cluster = Cluster.model_validate(data)
    dumped = dump_config(cluster)
    reparsed = parse_config(dumped)
    assert reparsed == cluster
    assert reparsed.resolved_hosts() == cluster.resolved_hosts()
    assert dump_config(reparsed) == dumped


@settings(max_examples=30, deadline=None)
@given(clusters())
def test_every_generated_host_lands_in_its_roles(data: dict[str, Any]) -> None:
    cluster = Cluster.model_validate(data)
    names = [host["name"] for host in data["spec"]["hosts"]]
    assert [host.name for host in cluster.resolved_hosts()] == names
    for host in cluster.resolved_hosts():
        assert host.roles
        assert host.internal_address
    masters = cluster.hosts_with_role("master")
    assert masters
    assert [host.name for host in masters] == [n for n in names if n in {h.name for h in masters}]
