"""What kubexms applies, through the REAL kubectl into the kube-apiserver double (on a real etcd,
on loopback): flannel's objects and the DNS objects are accepted server-side with strict field
validation, and what a rerun's precheck reads back (``kubectl get -f --ignore-not-found``)
shows every object carrying the manifest's digest; an object deleted since is found missing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubexms.cni import dump_objects
from kubexms.cni._applied import annotated, applied_digests, objects_missing
from kubexms.cni._module import plugin_objects
from kubexms.cni._objects import KubeObject
from kubexms.dns import dns_objects
from kubexms.kubernetes.binary._objects import coredns_objects
from tests.doubles.local_api import LocalApi, local_api
from tests.unit.cni.test_module import network_cluster, with_manifest
from tests.unit.dns.test_dns import dns_cluster


def apply_and_read_back(api: LocalApi, path: Path, objects: list[KubeObject]) -> None:
    marked, digest = annotated(objects)
    path.write_text(dump_objects(marked))
    api.kubectl("apply", "--server-side", "--field-manager=kubexms", "--force-conflicts",
                "-f", str(path), timeout=120)  # fmt: skip
    got = api.kubectl("get", "--ignore-not-found", "--output=json", "-f", str(path), timeout=120)
    assert objects_missing(len(marked), digest, applied_digests(got.stdout)) == 0


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApi]:
    with local_api(tmp_path_factory.mktemp("applied")) as started:
        yield started


def test_flannel_and_a_deleted_object_is_seen_missing(api: LocalApi, tmp_path: Path) -> None:
    cluster = network_cluster(tmp_path, "flannel", "1.32", kubePodsCIDR="10.50.0.0/16")
    with_manifest(cluster, tmp_path, "1.32")
    objects = plugin_objects(cluster)
    path = tmp_path / "flannel.yaml"
    apply_and_read_back(api, path, objects)
    api.kubectl("--namespace=kube-flannel", "delete", "configmap", "kube-flannel-cfg")
    _marked, digest = annotated(objects)
    got = api.kubectl("get", "--ignore-not-found", "--output=json", "-f", str(path))
    assert objects_missing(len(objects), digest, applied_digests(got.stdout)) == 1
    daemonset = json.loads(
        api.kubectl(
            "--namespace=kube-flannel", "get", "daemonset", "kube-flannel-ds", "--output=json"
        ).stdout
    )
    assert daemonset["metadata"]["annotations"]["kubexms.io/applied-sha256"] == digest


def test_binary_mode_dns_with_node_local_dns(api: LocalApi, tmp_path: Path) -> None:
    cluster = dns_cluster("1.32", "kubexm", node_local=True)
    apply_and_read_back(api, tmp_path / "dns-base.yaml", coredns_objects(cluster))
    apply_and_read_back(api, tmp_path / "dns.yaml", dns_objects(cluster))
