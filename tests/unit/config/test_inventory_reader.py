"""The fast inventory reader agrees with the full validation, or leaves the file to it.

``load_inventory`` reads a plain cluster file without the pydantic models (``kubexms exec``);
whatever it accepts, `load_config` accepts with the same hosts and settings, and a file it is
not sure of is `load_config`'s, errors included (field paths and lines).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubexms.config import (
    API_VERSION,
    Cluster,
    ConfigError,
    GlobalSettings,
    load_config,
    parse_config,
)
from kubexms.config import _inventory as reader
from kubexms.config._inventory import ClusterInventory, load_inventory, parse_inventory

SETTINGS = [field.name for field in dataclasses.fields(reader.InventorySettings)]


def _document(
    hosts: list[dict[str, Any]], groups: dict[str, Any], global_: dict[str, Any] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"hosts": hosts, "roleGroups": groups}
    if global_ is not None:
        spec["global"] = global_
    return {"apiVersion": API_VERSION, "kind": "Cluster", "metadata": {"name": "c"}, "spec": spec}


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


def _same(inventory: ClusterInventory | Cluster, cluster: Cluster) -> None:
    assert inventory.resolved_hosts() == cluster.resolved_hosts()
    for name in SETTINGS:
        assert getattr(inventory.spec.global_, name) == getattr(cluster.spec.global_, name), name


def test_its_defaults_and_api_version_are_the_models() -> None:
    defaults = GlobalSettings()
    for name in SETTINGS:
        assert getattr(reader.InventorySettings(), name) == getattr(defaults, name), name
    assert reader._API_VERSION == API_VERSION


PLAIN: dict[str, dict[str, Any]] = {
    "sandbox-like": _document(
        [
            {
                "name": f"node{i:02}",
                "address": f"10.0.0.{i}",
                "internalAddress": f"10.0.0.{i}",
                "port": 22,
                "user": "root",
                "privateKeyPath": "/tmp/key",
            }
            for i in range(1, 6)
        ],
        {"master": ["node01"], "etcd": ["node01"], "worker": ["node[01:05]"]},
        {"user": "root", "port": 22, "hostKeyPolicy": "strict", "knownHostsPath": "/tmp/kh"},
    ),
    "settings": _document(
        [
            {"name": "a", "address": "A.example.com.", "arch": "arm64"},
            {"name": "b", "address": "2001:db8::1", "port": 2222, "user": "ops"},
            {"name": "c", "address": "127.0.0.1", "connector": "local", "privateKeyPath": "~/k"},
        ],
        {
            "master": ["a"],
            "etcd": ["a", "b"],
            "worker": None,
            "registry": ["c"],
            "loadbalancer": [],
        },
        {
            "user": "deploy",
            "port": 2200,
            "privateKeyPath": "~/.ssh/id_ed25519",
            "connectionTimeout": 5,
            "commandTimeout": 1.5,
            "connectConcurrency": 3,
            "concurrency": 9,
            "hostKeyPolicy": "accept-new",
            "knownHostsPath": "~/kh",
            "keepaliveInterval": 0,
            "keepaliveCountMax": 4,
            "stopGrace": 0.5,
            "workDir": "/tmp/w",
        },
    ),
}


@pytest.mark.parametrize("name", PLAIN)
def test_a_plain_file_is_read_without_the_models_and_agrees(name: str, tmp_path: Path) -> None:
    path = _write(tmp_path, PLAIN[name])
    inventory = load_inventory(path)
    assert isinstance(inventory, ClusterInventory)
    _same(inventory, load_config(path))


def test_the_default_local_cluster_is_plain() -> None:
    from kubexms.cli._local import LOCAL_CLUSTER_YAML

    assert isinstance(parse_inventory(LOCAL_CLUSTER_YAML), ClusterInventory)


def _host(name: str = "a", **fields: Any) -> dict[str, Any]:
    return {"name": name, "address": "10.0.0.1", **fields}


ONE = {"master": ["a"], "etcd": ["a"]}
# Valid files beyond what the reader checks itself: read by load_config, same answer.
NOT_PLAIN: dict[str, object] = {
    "a secret": _document([_host(password="pw")], ONE),
    "an env reference": _document([_host(user="${KXMS_TEST_USER_FOR_INVENTORY}")], ONE),
    "labels": _document([_host(labels={"zone": "a"})], ONE),
    "a bastion": _document([_host(bastion={"address": "10.0.0.9"})], ONE),
    "a snake_case key": _document([_host(private_key_path="/k")], ONE),
    "kubernetes settings": {
        **_document([_host()], ONE),
        "spec": {**_document([_host()], ONE)["spec"], "kubernetes": {"version": "v1.31.4"}},
    },
    "two masters with an endpoint": {
        **_document(
            [_host("a"), _host("b", address="10.0.0.2")], {"master": ["a", "b"], "etcd": ["a"]}
        ),
        "spec": {
            **_document(
                [_host("a"), _host("b", address="10.0.0.2")],
                {"master": ["a", "b"], "etcd": ["a"]},
            )["spec"],
            "controlPlaneEndpoint": {"address": "10.0.0.100"},
        },
    },
    "off unquoted": _document([_host()], ONE, {"hostKeyPolicy": False}),
}


@pytest.mark.parametrize("name", NOT_PLAIN)
def test_a_file_it_does_not_check_is_the_full_validations(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KXMS_TEST_USER_FOR_INVENTORY", "ops")
    path = _write(tmp_path, NOT_PLAIN[name])
    inventory = load_inventory(path)
    assert isinstance(inventory, Cluster)
    _same(inventory, load_config(path))


TWO = [_host("a"), _host("b", address="10.0.0.2")]
BAD: dict[str, object] = {
    "unknown host in a group": _document([_host()], {"master": ["a"], "etcd": ["x"]}),
    "repeated in a group": _document(TWO, {"master": ["a"], "etcd": ["a", "a"], "worker": ["b"]}),
    "host in no group": _document(TWO, ONE),
    "no master": _document([_host()], {"etcd": ["a"]}),
    "no etcd": _document([_host()], {"master": ["a"]}),
    "two masters, no endpoint": _document(TWO, {"master": ["a", "b"], "etcd": ["a"]}),
    "duplicate name": _document([_host(), _host(address="10.0.0.2")], ONE),
    "duplicate endpoint": _document(
        [_host("a", address="::1"), _host("b", address="0::1")],
        {"master": ["a"], "etcd": ["a"], "worker": ["b"]},
    ),
    "two local hosts": _document(
        [_host("a", connector="local"), _host("b", address="10.0.0.2", connector="local")],
        {"master": ["a"], "etcd": ["a"], "worker": ["b"]},
    ),
    "port 0": _document([_host(port=0)], ONE),
    "port as text": _document([_host(port="22")], ONE),
    "port true": _document([_host(port=True)], ONE),
    "upper-case name": _document([_host("A")], {"master": ["A"], "etcd": ["A"]}),
    "bad address": _document([_host(address="10.0.0.300")], ONE),
    "bad user": _document([_host(user="bad user")], ONE),
    "bad arch": _document([_host(arch="x86")], ONE),
    "bad connector": _document([_host(connector="telnet")], ONE),
    "empty key path": _document([_host(privateKeyPath="")], ONE),
    "unknown host key": _document([_host(colour="red")], ONE),
    "nan timeout": _document([_host()], ONE, {"connectionTimeout": float("nan")}),
    "zero timeout": _document([_host()], ONE, {"commandTimeout": 0}),
    "negative grace": _document([_host()], ONE, {"stopGrace": -1}),
    "zero count": _document([_host()], ONE, {"connectConcurrency": 0}),
    "bad policy": _document([_host()], ONE, {"hostKeyPolicy": "maybe"}),
    "null global": _document([_host()], ONE)
    | {"spec": {"hosts": [_host()], "roleGroups": ONE, "global": None}},
    "bad range": _document([_host()], {"master": ["a"], "etcd": ["a[2:1]"]}),
    "no hosts": _document([], ONE),
    "wrong apiVersion": {**_document([_host()], ONE), "apiVersion": "v1"},
    "no metadata": {k: v for k, v in _document([_host()], ONE).items() if k != "metadata"},
    "unset variable": _document([_host(user="${KXMS_TEST_SURELY_UNSET}")], ONE),
    "not a mapping": "- a\n- b\n",
    "syntax error": "apiVersion: [\n",
    "empty": "",
    "a NUL byte": "apiVersion: a\0\n",
}


@pytest.mark.parametrize("name", BAD)
def test_a_bad_file_gets_the_full_validations_errors(name: str, tmp_path: Path) -> None:
    path = _write(tmp_path, BAD[name])
    with pytest.raises(ConfigError) as full:
        load_config(path)
    with pytest.raises(ConfigError) as ours:
        load_inventory(path)
    assert ours.value.issues == full.value.issues
    assert ours.value.source == full.value.source
    assert str(ours.value) == str(full.value)


@pytest.mark.parametrize("name", ["missing", "directory"])
def test_an_unreadable_file_gets_the_full_validations_error(name: str, tmp_path: Path) -> None:
    path = tmp_path / "nothing.yaml" if name == "missing" else tmp_path
    with pytest.raises(ConfigError) as full:
        load_config(path)
    with pytest.raises(ConfigError) as ours:
        load_inventory(path)
    assert str(ours.value) == str(full.value)


# Random plain-looking documents, mostly valid, each value sometimes not: whatever the reader
# accepts, load_config accepts with the same hosts and settings.
def _mostly(valid: list[Any], invalid: list[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from(valid * 6 + invalid)


_VALUES = {
    "port": _mostly([22, 2222], [0, 65536, "22", True, None]),
    "user": _mostly(["root", "ops"], ["bad user", "", 5]),
    "privateKeyPath": _mostly(["/k", "~/k"], ["", ".", 3]),
    "arch": _mostly(["amd64", "arm64"], ["x86"]),
    "connector": _mostly(["ssh", "local"], ["ftp"]),
    "internalAddress": _mostly(["10.0.0.1", "h.example", "H.EXAMPLE.", "::1"], ["010.0.0.1", ""]),
}
_GLOBAL = {
    "user": _VALUES["user"],
    "port": _VALUES["port"],
    "privateKeyPath": _VALUES["privateKeyPath"],
    "connectionTimeout": _mostly([1, 0.5], [0, -1, float("inf"), "3", False]),
    "keepaliveInterval": _mostly([0, 1.5], [-0.1, float("nan")]),
    "connectConcurrency": _mostly([1, 64], [0, 2.0, True]),
    "hostKeyPolicy": _mostly(["strict", "off", "accept-new"], [False, "no"]),
    "knownHostsPath": _mostly(["/kh", "~/kh"], [""]),
}


@st.composite
def _documents(draw: st.DrawFn) -> dict[str, Any]:
    hosts = []
    for index in range(draw(st.integers(min_value=1, max_value=3))):
        host: dict[str, Any] = {
            "name": draw(st.sampled_from([f"node0{index}"] * 4 + ["a", "B", "-x", ""])),
            "address": draw(st.sampled_from([f"10.0.0.{index}"] * 4 + ["::1", "0::1", "1.2.3"])),
        }
        for key in draw(st.sets(st.sampled_from(sorted(_VALUES)), max_size=3)):
            host[key] = draw(_VALUES[key])
        hosts.append(host)
    names = [host["name"] for host in hosts]
    extra = st.sampled_from(["x", "node[00:01]", "a[", *names])
    groups: dict[str, Any] = {
        "master": draw(
            st.sampled_from([names[:1]] * 4 + [names[:2]]) | st.lists(extra, max_size=2)
        ),
        "etcd": draw(st.sampled_from([names[:1]] * 4 + [None]) | st.lists(extra, max_size=2)),
        "worker": draw(st.sampled_from([names[1:]] * 4 + [names]) | st.lists(extra, max_size=3)),
    }
    global_ = None
    if draw(st.booleans()):
        global_ = {
            key: draw(_GLOBAL[key])
            for key in draw(st.sets(st.sampled_from(sorted(_GLOBAL)), max_size=4))
        }
    return _document(hosts, groups, global_)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(document=_documents())
def test_whatever_it_accepts_the_full_validation_accepts_alike(document: dict[str, Any]) -> None:
    text = yaml.safe_dump(document)
    inventory = reader._read_plain(text, "<test>")
    if inventory is None:
        return
    _same(inventory, parse_config(text, "<test>"))
