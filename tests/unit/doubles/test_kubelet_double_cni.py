"""The kubeadm kubelet double does what the CNI DaemonSet's install-cni init container does on
its node (tests/doubles/doubles_core/cni.py), against a real etcd and the API-server double on
loopback: nothing before the DaemonSet exists, calico's conflist from its ConfigMap with the
placeholders filled once it does, nothing on a node the DaemonSet does not select."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.doubles.doubles_core import cni
from tests.doubles.doubles_core.api import from_kubeconfig
from tests.doubles.local_api import LocalApi, calico_objects, local_api


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApi]:
    with local_api(tmp_path_factory.mktemp("api")) as running:
        yield running


def test_install_cni_writes_calicos_conflist_once_the_daemonset_exists(
    api: LocalApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBEXMS_DOUBLE_ROOT", str(tmp_path / "root"))
    client = from_kubeconfig(api.kubeconfig())
    api.register_node("cni-a", ready="False")
    api.register_node("cni-b", ready="False")
    assert cni.install_cni(client, "cni-a") is None
    assert not (tmp_path / "root/etc/cni/net.d").exists()

    # Selects only nodes labelled role=net: cni-b is not one of them.
    objects = calico_objects(tmp_path, {"kubernetes.io/os": "linux", "role": "net"})
    api.kubectl("apply", "--server-side", "-f", str(objects))
    assert cni.install_cni(client, "cni-b") is None
    assert not cni.configured()

    api.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(calico_objects(tmp_path)))
    written = cni.install_cni(client, "cni-a")
    assert written == "/etc/cni/net.d/10-calico.conflist"
    path = tmp_path / "root/etc/cni/net.d/10-calico.conflist"
    assert path.stat().st_mode & 0o777 == 0o644
    conflist = json.loads(path.read_text())
    calico = conflist["plugins"][0]
    assert (calico["nodename"], calico["mtu"]) == ("cni-a", 0)
    assert calico["kubernetes"]["kubeconfig"] == "/etc/cni/net.d/calico-kubeconfig"
    assert "__" not in path.read_text()
    assert [p.name for p in path.parent.iterdir()] == ["10-calico.conflist"]
    # A configuration in place: nothing more to do, as the kubelet sees the network ready.
    assert cni.configured()
    assert cni.install_cni(client, "cni-a") is None
