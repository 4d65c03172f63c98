"""Each malformed cluster file is rejected with the exact field path of what is wrong.

When two login methods are set, the later one in the order password, privateKeyPath,
privateKey is the one reported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .sample import base, issues_of, to_yaml

Data = dict[str, Any]


def _spec(data: Data) -> Data:
    spec: Data = data["spec"]
    return spec


def _host(index: int, **fields: Any) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        _spec(data)["hosts"][index].update(fields)

    return change


def _global(**fields: Any) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        _spec(data)["global"].update(fields)

    return change


def _section(name: str, value: Any) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        _spec(data)[name] = value

    return change


def _roles(**groups: Any) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        _spec(data)["roleGroups"].update(groups)

    return change


def _top(key: str, value: Any) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        data[key] = value

    return change


def _drop(*path: str | int) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


def _all(*changes: Callable[[Data], None]) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        for each in changes:
            each(data)

    return change


def _add_host(**fields: Any) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        _spec(data)["hosts"].append(fields)

    return change


_MULTI_MASTER = _roles(master=["node1", "node2"])

CASES: list[tuple[str, Callable[[Data], None], str]] = [
    # top level and metadata
    ("wrong apiVersion", _top("apiVersion", "kubexms.io/v1"), "apiVersion"),
    ("missing apiVersion", _drop("apiVersion"), "apiVersion"),
    ("wrong kind", _top("kind", "Deployment"), "kind"),
    ("missing metadata", _drop("metadata"), "metadata"),
    ("name with underscore", _top("metadata", {"name": "my_cluster"}), "metadata.name"),
    ("name too long", _top("metadata", {"name": "a" * 64}), "metadata.name"),
    ("unknown top-level field", _top("specs", {}), "specs"),
    ("missing spec", _drop("spec"), "spec"),
    # hosts
    ("missing hosts", _drop("spec", "hosts"), "spec.hosts"),
    ("empty hosts", _section("hosts", []), "spec.hosts"),
    ("hosts is a mapping", _section("hosts", {"node1": "10.0.0.1"}), "spec.hosts"),
    ("host without name", _drop("spec", "hosts", 1, "name"), "spec.hosts[1].name"),
    ("upper-case host name", _host(1, name="Node2"), "spec.hosts[1].name"),
    ("host name with dot", _host(1, name="node2.lan"), "spec.hosts[1].name"),
    ("host without address", _drop("spec", "hosts", 2, "address"), "spec.hosts[2].address"),
    ("IPv4 out of range", _host(2, address="10.213.0.300"), "spec.hosts[2].address"),
    ("address with space", _host(2, address="my host"), "spec.hosts[2].address"),
    ("bad internalAddress", _host(0, internalAddress="10.0.0."), "spec.hosts[0].internalAddress"),
    ("port 0", _host(2, port=0), "spec.hosts[2].port"),
    ("port 70000", _host(2, port=70000), "spec.hosts[2].port"),
    ("port as quoted string", _host(2, port="22"), "spec.hosts[2].port"),
    ("port as word", _host(2, port="ssh"), "spec.hosts[2].port"),
    ("port as float", _host(2, port=22.5), "spec.hosts[2].port"),
    ("duplicate host name", _host(2, name="node1"), "spec.hosts[2].name"),
    ("duplicate address and port", _host(2, address="10.213.0.11"), "spec.hosts[2].address"),
    (
        "duplicate address via global port",
        _all(_host(1, address="10.213.0.11", port=22)),
        "spec.hosts[1].address",
    ),
    ("misspelt host field", _host(0, adress="10.0.0.1"), "spec.hosts[0].adress"),
    ("password and key", _host(0, password="x", privateKey="k"), "spec.hosts[0].privateKey"),
    (
        "password and key path",
        _host(1, password="x", privateKeyPath="/k"),
        "spec.hosts[1].privateKeyPath",
    ),
    ("two auth methods globally", _global(password="x"), "spec.global.privateKeyPath"),
    (
        "two auth methods on a bastion",
        _host(0, bastion={"address": "10.213.0.2", "privateKeyPath": "/k", "password": "x"}),
        "spec.hosts[0].bastion.privateKeyPath",
    ),
    (
        "two auth methods on the global bastion",
        _global(bastion={"address": "10.213.0.2", "privateKey": "k", "privateKeyPath": "/k"}),
        "spec.global.bastion.privateKey",
    ),
    (
        "bastion without address",
        _host(0, bastion={"user": "jump"}),
        "spec.hosts[0].bastion.address",
    ),
    (
        "bastion port",
        _host(0, bastion={"address": "10.0.0.2", "port": -1}),
        "spec.hosts[0].bastion.port",
    ),
    ("unknown connector", _host(0, connector="winrm"), "spec.hosts[0].connector"),
    (
        "two local hosts",
        _all(_host(0, connector="local"), _host(1, connector="local")),
        "spec.hosts[1].connector",
    ),
    ("unknown arch", _host(0, arch="x86"), "spec.hosts[0].arch"),
    ("labels as a list", _host(0, labels=["a"]), "spec.hosts[0].labels"),
    ("label value as a mapping", _host(0, labels={"zone": {"a": 1}}), "spec.hosts[0].labels.zone"),
    ("empty sudo password", _host(0, sudoPassword=""), "spec.hosts[0].sudoPassword"),
    ("password as a number", _host(0, password=1234), "spec.hosts[0].password"),
    # role groups
    ("missing roleGroups", _drop("spec", "roleGroups"), "spec.roleGroups"),
    (
        "unknown host in a role group",
        _roles(worker=["node2", "node9"]),
        "spec.roleGroups.worker[1]",
    ),
    ("range with an unknown host", _roles(worker=["node[2:4]"]), "spec.roleGroups.worker[0]"),
    ("descending range", _roles(worker=["node[3:2]"]), "spec.roleGroups.worker[0]"),
    ("range of letters", _roles(worker=["node[a:c]"]), "spec.roleGroups.worker[0]"),
    ("unknown role group", _roles(workers=["node2"]), "spec.roleGroups.workers"),
    ("host in no role group", _add_host(name="node4", address="10.213.0.14"), "spec.hosts[3]"),
    ("no master", _roles(master=[]), "spec.roleGroups.master"),
    ("no etcd host", _roles(etcd=[]), "spec.roleGroups.etcd"),
    ("number in a role group", _roles(worker=["node2", 3]), "spec.roleGroups.worker[1]"),
    ("role group as a string", _roles(worker="node2"), "spec.roleGroups.worker"),
    ("host twice in a group", _roles(worker=["node2", "node[2:3]"]), "spec.roleGroups.worker[1]"),
    (
        "kubeadm etcd on a worker",
        _all(_roles(etcd=["node2"]), _section("etcd", {"type": "kubeadm"})),
        "spec.roleGroups.etcd[0]",
    ),
    # control plane endpoint
    ("multi-master without endpoint", _MULTI_MASTER, "spec.controlPlaneEndpoint"),
    (
        "multi-master with an empty endpoint",
        _all(_MULTI_MASTER, _section("controlPlaneEndpoint", {"port": 6443})),
        "spec.controlPlaneEndpoint",
    ),
    (
        "endpoint port",
        _section("controlPlaneEndpoint", {"port": 0}),
        "spec.controlPlaneEndpoint.port",
    ),
    (
        "endpoint domain",
        _section("controlPlaneEndpoint", {"domain": "lb_local"}),
        "spec.controlPlaneEndpoint.domain",
    ),
    (
        "load balancer type",
        _section("controlPlaneEndpoint", {"loadBalancer": {"type": "f5"}}),
        "spec.controlPlaneEndpoint.loadBalancer.type",
    ),
    (
        "kube-vip without address",
        _section(
            "controlPlaneEndpoint", {"domain": "lb.local", "loadBalancer": {"type": "kube-vip"}}
        ),
        "spec.controlPlaneEndpoint.address",
    ),
    (
        "external load balancer without hosts",
        _section(
            "controlPlaneEndpoint", {"address": "10.0.0.9", "loadBalancer": {"type": "external"}}
        ),
        "spec.roleGroups.loadbalancer",
    ),
    (
        "internal load balancer without a domain",
        _section("controlPlaneEndpoint", {"loadBalancer": {"type": "internal"}}),
        "spec.controlPlaneEndpoint.domain",
    ),
    (
        "external load balancer on a master at the API server's port",
        _all(
            _section(
                "controlPlaneEndpoint",
                {"address": "10.0.0.9", "loadBalancer": {"type": "external"}},
            ),
            _roles(loadbalancer=["node2", "node1"]),
        ),
        "spec.roleGroups.loadbalancer[1]",
    ),
    (
        "kube-vip on another port than the API server's",
        _section(
            "controlPlaneEndpoint",
            {"address": "10.0.0.9", "port": 8443, "loadBalancer": {"type": "kube-vip"}},
        ),
        "spec.controlPlaneEndpoint.port",
    ),
    (
        "virtual router id out of range",
        _section("controlPlaneEndpoint", {"loadBalancer": {"virtualRouterId": 256}}),
        "spec.controlPlaneEndpoint.loadBalancer.virtualRouterId",
    ),
    (
        "interface name with a slash",
        _section("controlPlaneEndpoint", {"loadBalancer": {"interface": "eth0/1"}}),
        "spec.controlPlaneEndpoint.loadBalancer.interface",
    ),
    # global
    ("host key policy", _global(hostKeyPolicy="yes"), "spec.global.hostKeyPolicy"),
    ("zero connection timeout", _global(connectionTimeout=0), "spec.global.connectionTimeout"),
    ("negative command timeout", _global(commandTimeout=-5), "spec.global.commandTimeout"),
    ("quoted timeout", _global(commandTimeout="600"), "spec.global.commandTimeout"),
    ("zero connect concurrency", _global(connectConcurrency=0), "spec.global.connectConcurrency"),
    ("word as concurrency", _global(concurrency="many"), "spec.global.concurrency"),
    ("negative keepalive", _global(keepaliveInterval=-1), "spec.global.keepaliveInterval"),
    ("global port", _global(port=65536), "spec.global.port"),
    ("user with a space", _global(user="ad min"), "spec.global.user"),
    ("misspelt global field", _global(workdir="/tmp/x"), "spec.global.workdir"),
    ("global is a list", _section("global", ["user"]), "spec.global"),
    # kubernetes
    ("kubernetes type", _section("kubernetes", {"type": "k3s"}), "spec.kubernetes.type"),
    ("version without v", _section("kubernetes", {"version": "1.31.4"}), "spec.kubernetes.version"),
    (
        "version without patch",
        _section("kubernetes", {"version": "v1.31"}),
        "spec.kubernetes.version",
    ),
    (
        "unquoted version number",
        _section("kubernetes", {"version": 1.31}),
        "spec.kubernetes.version",
    ),
    (
        "kube-proxy mode",
        _section("kubernetes", {"kubeProxy": {"mode": "nftables"}}),
        "spec.kubernetes.kubeProxy.mode",
    ),
    (
        "kubeadm leaf certificates longer than a year",
        _section("kubernetes", {"certificates": {"leafValidityDays": 730}}),
        "spec.kubernetes.certificates.leafValidityDays",
    ),
    (
        "leaf certificates outliving the CAs",
        _section(
            "kubernetes",
            {"type": "kubexm", "certificates": {"caValidityDays": 100, "leafValidityDays": 200}},
        ),
        "spec.kubernetes.certificates.leafValidityDays",
    ),
    (
        "renewal window as long as the certificates",
        _section("kubernetes", {"certificates": {"renewBeforeDays": 365}}),
        "spec.kubernetes.certificates.renewBeforeDays",
    ),
    (
        "unknown certificate key type",
        _section("kubernetes", {"certificates": {"keyType": "dsa"}}),
        "spec.kubernetes.certificates.keyType",
    ),
    (
        "container runtime type",
        _section("kubernetes", {"containerRuntime": {"type": "docker"}}),
        "spec.kubernetes.containerRuntime.type",
    ),
    (
        "bad certificate SAN",
        _section("kubernetes", {"apiServer": {"certSANs": ["ok.example.com", "not valid"]}}),
        "spec.kubernetes.apiServer.certSANs[1]",
    ),
    # etcd
    ("etcd type", _section("etcd", {"type": "stacked"}), "spec.etcd.type"),
    (
        "external etcd without endpoints",
        _section("etcd", {"type": "external"}),
        "spec.etcd.external.endpoints",
    ),
    (
        "etcd endpoint not a URL",
        _section("etcd", {"type": "external", "external": {"endpoints": ["10.0.0.5:2379"]}}),
        "spec.etcd.external.endpoints[0]",
    ),
    ("relative etcd data dir", _section("etcd", {"dataDir": "var/lib/etcd"}), "spec.etcd.dataDir"),
    ("etcd version", _section("etcd", {"version": "3.5"}), "spec.etcd.version"),
    (
        "etcd election timeout under 5 heartbeats",
        _section("etcd", {"heartbeatInterval": 1000, "electionTimeout": 4000}),
        "spec.etcd.electionTimeout",
    ),
    (
        "etcd heartbeat zero",
        _section("etcd", {"heartbeatInterval": 0}),
        "spec.etcd.heartbeatInterval",
    ),
    (
        "etcd quota above 8 GiB",
        _section("etcd", {"quotaBackendBytes": 9 * 1024**3}),
        "spec.etcd.quotaBackendBytes",
    ),
    (
        "etcd compaction retention",
        _section("etcd", {"autoCompactionRetention": "8 hours"}),
        "spec.etcd.autoCompactionRetention",
    ),
    ("etcd snapshot count", _section("etcd", {"snapshotCount": "many"}), "spec.etcd.snapshotCount"),
    (
        "etcd extra arg kubexms manages",
        _section("etcd", {"extraArgs": {"data-dir": "/srv/etcd"}}),
        "spec.etcd.extraArgs.data-dir",
    ),
    (
        "etcd extra arg with dashes",
        _section("etcd", {"extraArgs": {"--max-request-bytes": 1048576}}),
        "spec.etcd.extraArgs.--max-request-bytes",
    ),
    ("etcd backup keep", _section("etcd", {"backup": {"keep": 0}}), "spec.etcd.backup.keep"),
    (
        "etcd backup dir relative",
        _section("etcd", {"backup": {"dir": "backups"}}),
        "spec.etcd.backup.dir",
    ),
    (
        "external etcd client certificate without its key",
        _section(
            "etcd",
            {
                "type": "external",
                "external": {
                    "endpoints": ["https://10.0.0.5:2379"],
                    "certFile": "/c.pem",
                },
            },
        ),
        "spec.etcd.external.keyFile",
    ),
    # network
    ("network plugin", _section("network", {"plugin": "weave"}), "spec.network.plugin"),
    (
        "invalid pod CIDR",
        _section("network", {"kubePodsCIDR": "10.233.64.0/33"}),
        "spec.network.kubePodsCIDR",
    ),
    (
        "service CIDR with host bits",
        _section("network", {"kubeServiceCIDR": "10.233.0.1/18"}),
        "spec.network.kubeServiceCIDR",
    ),
    (
        "overlapping CIDRs",
        _section("network", {"kubePodsCIDR": "10.0.0.0/8", "kubeServiceCIDR": "10.96.0.0/12"}),
        "spec.network.kubeServiceCIDR",
    ),
    # registry and addons
    (
        "mirror not a URL",
        _section("registry", {"mirrors": ["mirror.local"]}),
        "spec.registry.mirrors[0]",
    ),
    (
        "registry login without password",
        _section("registry", {"auths": {"reg.example.com:5000": {"username": "u"}}}),
        'spec.registry.auths["reg.example.com:5000"].password',
    ),
    ("addon type", _section("addons", [{"name": "x", "type": "kustomize"}]), "spec.addons[0].type"),
    (
        "helm addon without chart",
        _section("addons", [{"name": "x", "type": "helm"}]),
        "spec.addons[0].chart",
    ),
    (
        "manifest addon with a chart",
        _section(
            "addons", [{"name": "x", "type": "manifest", "manifests": ["a.yaml"], "chart": "c"}]
        ),
        "spec.addons[0].chart",
    ),
    (
        "duplicate addon name",
        _section(
            "addons",
            [
                {"name": "x", "type": "helm", "chart": "a"},
                {"name": "x", "type": "helm", "chart": "b"},
            ],
        ),
        "spec.addons[1].name",
    ),
    # environment references
    (
        "unset variable",
        _host(0, password="${KUBEXMS_TEST_UNSET_VARIABLE}"),
        "spec.hosts[0].password",
    ),
    ("invalid reference", _host(0, address="${1NOPE}"), "spec.hosts[0].address"),
]


@pytest.mark.parametrize(
    ("change", "path"), [(c, p) for _, c, p in CASES], ids=[name for name, _, _ in CASES]
)
def test_malformed_file_reports_the_field_path(change: Callable[[Data], None], path: str) -> None:
    data = base()
    change(data)
    issues = issues_of(to_yaml(data))
    assert path in [issue.path for issue in issues], "\n".join(map(str, issues))
    for issue in issues:
        assert issue.line is not None
        assert issue.line >= 1
        assert "Value error" not in issue.message
        assert "Input should" not in issue.message
        assert "errors.pydantic.dev" not in issue.message


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 45
    assert len({name for name, _, _ in CASES}) == len(CASES)
