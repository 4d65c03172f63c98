"""``kubeadm join phase`` in the kubeadm test double: kubeadm's phase names and each phase's
flags (refused otherwise, before anything runs), the ControlPlaneKubeletLocalMode gate deciding
which etcd phase adds the member, and a whole control-plane join's preflight refusing manifests
a cut-off join left. (The fleet e2e runs the phases for real on a cut-off join.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubexms.config import parse_config
from kubexms.kubernetes import BootstrapToken, join_documents, to_yaml
from tests.doubles.kubeadm_double.join import Joining
from tests.doubles.kubeadm_double.main import main
from tests.doubles.kubeadm_double.phases import PHASES
from tests.unit.config.sample import to_yaml as cluster_yaml
from tests.unit.kubernetes.sample import cluster_data

TOKEN = BootstrapToken("abcdef", "0123456789abcdef")


@pytest.fixture
def join_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """master2's join configuration in a scratch root with a container runtime socket."""
    root = tmp_path / "root"
    (root / "run/containerd").mkdir(parents=True)
    (root / "run/containerd/containerd.sock").write_text("")
    monkeypatch.setenv("KUBEXMS_DOUBLE_ROOT", str(root))
    cluster = parse_config(cluster_yaml(cluster_data(etcd={"type": "kubeadm"})))
    path = tmp_path / "join.yaml"
    path.write_text(to_yaml(join_documents(cluster, "master2", TOKEN, ["sha256:" + "0" * 64])))
    return path


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv, "v1.32.0") == 1
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["update-status"], 'unknown command "update-status" for "kubeadm join phase"'),
        (
            ["control-plane-join", "update-status"],  # removed in 1.31
            'unknown command "update-status" for "kubeadm join phase control-plane-join"',
        ),
        (["control-plane-join"], "needs a subphase: all, etcd, mark-control-plane"),
        (
            ["kubelet-start", "extra"],
            'unknown command "extra" for "kubeadm join phase kubelet-start"',
        ),
        (
            ["control-plane-join", "mark-control-plane", "--apiserver-advertise-address=1.2.3.4"],
            "unknown flag: --apiserver-advertise-address",  # not a flag of that phase
        ),
        (["kubelet-wait-bootstrap", "--node-name=x"], "unknown flag: --node-name"),
        (["control-plane-join", "etcd", "--skip-phases=x"], "unknown flag: --skip-phases"),
        (
            ["control-plane-join", "etcd", "--node-name=x"],
            "can not mix '--config' with arguments [node-name]",
        ),
        (
            ["control-plane-prepare", "certs"],
            "does not run the phase 'control-plane-prepare certs' alone",
        ),
        (["kubelet-start"], "needs --config"),
    ],
)
def test_phases_and_flags_kubeadm_does_not_have_are_refused(
    argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert error in _refused(["join", "phase", *argv], capsys)


def _joining(version: str, gates: dict[str, bool] | None = None) -> Joining:
    """A control-plane join whose cluster is nowhere: a phase that reached it would fail."""
    cluster = {"etcd": {"local": {}}, **({"featureGates": gates} if gates else {})}
    control_plane = {"localAPIEndpoint": {"advertiseAddress": "192.0.2.1"}}
    return Joining(
        join={"controlPlane": control_plane},
        registration={"name": "master2"},
        node="master2",
        control_plane=control_plane,
        server="https://192.0.2.1:1",
        ca_pem=b"",
        token=TOKEN.value,
        cluster=cluster,
        kubelet={},
        version=version,
    )


def test_the_kubelet_local_mode_gate_decides_which_phase_adds_the_etcd_member() -> None:
    assert not _joining("v1.32.0").local_mode  # alpha, off
    assert _joining("v1.33.1").local_mode  # beta, on
    assert not _joining("v1.34.0", {"ControlPlaneKubeletLocalMode": False}).local_mode
    # The phase whose RunIf is false does nothing: it never reaches the (absent) cluster.
    for version, skipped in (
        ("v1.32.0", [("etcd-join",), ("kubelet-wait-bootstrap",)]),
        ("v1.33.1", [("control-plane-join", "etcd")]),
    ):
        for path in skipped:
            run = PHASES[path][1]
            assert run is not None
            run(_joining(version), False)


def test_a_control_plane_join_refuses_the_manifests_a_cut_off_join_left(
    join_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = Path(str(join_config.parent / "root/etc/kubernetes/manifests/kube-apiserver.yaml"))
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{}")
    error = _refused(["join", "--config", str(join_config)], capsys)
    assert "[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]" in error
