"""A cut-off ``kubeadm join`` is finished phase by phase: what a host holds says which of
kubeadm's join phases ran (the files, the node's control-plane label and taints), and only the
missing ones run, with the same configuration. Against a scripted host that does what each
phase leaves; the fleet e2e finishes a killed join with the kubeadm double."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from kubexms.kubernetes import KubeadmError, KubeadmJoin, bootstrap_token_path
from kubexms.kubernetes._kubeadm_join import JoinState, finishing_phases, is_marked
from kubexms.runtime import Context
from tests.unit.kubernetes.test_kubeadm_steps import scripted_context
from tests.unit.runner.fakes import Call, Handler

KUBELET = "/etc/kubernetes/kubelet.conf"
BOOTSTRAP = "/etc/kubernetes/bootstrap-kubelet.conf"
ETCD = "/etc/kubernetes/manifests/etcd.yaml"
PREPARED = frozenset(
    f"/etc/kubernetes/manifests/{name}.yaml"
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
)
MARK = "control-plane-join mark-control-plane"
TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
CONFIG = "/etc/kubernetes/kubeadm/join.yaml"


def _phases(files: set[str], marked: bool = False, **kind: bool) -> list[str] | None:
    options = {"control_plane": True, "stacked": True, "local_mode": False, **kind}
    return finishing_phases(JoinState(frozenset(files), marked), **options)


def test_what_a_host_holds_says_which_join_phases_are_left() -> None:
    assert _phases(set()) is None  # nothing started: a whole join
    assert _phases(set(), control_plane=False) is None
    # Cut in control-plane-prepare: it runs again (kubeadm's preflight would refuse its files).
    assert _phases({*PREPARED}) == [
        "control-plane-prepare all",
        "kubelet-start",
        "control-plane-join etcd",
        MARK,
    ]
    # Cut while kubelet-start waited for the TLS bootstrap.
    assert _phases({*PREPARED, BOOTSTRAP}) == ["kubelet-start", "control-plane-join etcd", MARK]
    # The kubelet bootstrapped on its own after the cut: the etcd member and the mark are left.
    assert _phases({*PREPARED, BOOTSTRAP, KUBELET}) == ["control-plane-join etcd", MARK]
    # Cut between the etcd member and mark-control-plane: not done yet.
    assert _phases({*PREPARED, KUBELET, ETCD}) == [MARK]
    assert _phases({*PREPARED, KUBELET, ETCD}, marked=True) == []
    assert _phases({*PREPARED, KUBELET}, marked=True, stacked=False) == []
    # 1.33+ (ControlPlaneKubeletLocalMode): the member before the TLS bootstrap.
    assert _phases({*PREPARED, BOOTSTRAP}, local_mode=True) == [
        "kubelet-start",
        "etcd-join",
        "kubelet-wait-bootstrap",
        MARK,
    ]
    assert _phases({BOOTSTRAP}, control_plane=False) == ["kubelet-start"]
    assert _phases({BOOTSTRAP}, control_plane=False, local_mode=True) == [
        "kubelet-start",
        "kubelet-wait-bootstrap",
    ]
    assert _phases({KUBELET}, control_plane=False) == []


def test_a_node_is_marked_once_it_has_the_label_and_every_taint() -> None:
    label = {"metadata": {"labels": {"node-role.kubernetes.io/control-plane": ""}}}
    assert not is_marked({"metadata": {"labels": {}}}, [])
    assert is_marked(label, [])  # a master that is also a worker has no taint
    assert not is_marked(label, [TAINT])
    assert is_marked({**label, "spec": {"taints": [TAINT]}}, [TAINT])


class _Host:
    """A master2 that a cut-off join left with ``files``; each kubeadm phase does what it
    leaves (its file, the member's manifest, the node's mark)."""

    def __init__(self, files: set[str], node: dict[str, Any] | None, error: str = "") -> None:
        self.files, self.node, self.error = files, node, error
        self.calls: list[Call] = []

    def __call__(self, call: Call) -> str:
        self.calls.append(call)
        command = call.command
        if "kubeadm join" in command:
            if "control-plane-join etcd" in command:
                self.files.add(ETCD)
            if "mark-control-plane" in command and self.node is not None:
                self.node = {**self.node, "spec": {"taints": [TAINT]}}
                self.node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] = ""
            return "[control-plane-join] done\n@kxms:exit 0\n"
        if "[ -f " not in command:
            if BOOTSTRAP in command and "rm" in command:
                self.files.discard(BOOTSTRAP)
            return ""
        lines = [path for path in sorted(self.files) if path in command]
        if "get node" in command and KUBELET in self.files:
            if self.error:
                lines.append(f"@kxms:node-error {self.error}")
            elif self.node is None:
                lines.append('@kxms:node-error Error from server (NotFound): nodes "x" not found')
            else:
                lines.append(
                    "@kxms:node " + base64.b64encode(json.dumps(self.node).encode()).decode()
                )
        return "".join(f"{line}\n" for line in lines)


async def _context(tmp_path: Path, handler: Handler) -> tuple[Context, Path]:
    return await scripted_context(tmp_path, handler, 1, etcd_type="kubeadm")  # master2


def _unmarked() -> dict[str, Any]:
    return {"metadata": {"name": "master2", "labels": {}}, "spec": {}}


async def test_a_join_cut_off_after_its_kubelet_started_is_finished_by_its_phases(
    tmp_path: Path,
) -> None:
    host = _Host({*PREPARED, BOOTSTRAP, KUBELET}, _unmarked())
    ctx, pki = await _context(tmp_path, host)
    step = KubeadmJoin(CONFIG, control_plane=True, pki_dir=str(pki))
    planned = await step.precheck(ctx)
    assert planned.changed
    assert planned.detail == (
        f"remove the leftover {BOOTSTRAP}; kubeadm join phase control-plane-join etcd; "
        f"kubeadm join phase {MARK}"
    )
    done = await step.run(ctx)
    assert done.changed
    assert done.detail.startswith("finished the cut-off join: ")
    ran = [c.command for c in host.calls if "kubeadm join" in c.command]
    assert len(ran) == 2
    assert f"kubeadm join phase control-plane-join etcd --config {CONFIG}" in ran[0]
    assert f"kubeadm join phase {MARK} --config {CONFIG}" in ran[1]
    assert all("sed -E" in command for command in ran)  # output masked on the host
    token = bootstrap_token_path(ctx.cluster.config).read_text().strip()
    assert not any(token in c.command for c in host.calls)  # never argv
    assert token.encode() in b"".join(c.stdin for c in host.calls)  # the config, on stdin
    assert BOOTSTRAP not in host.files  # the bootstrap token's file is gone
    assert not (await step.precheck(ctx)).changed


async def test_a_join_cut_between_its_etcd_member_and_the_mark_is_not_taken_for_done(
    tmp_path: Path,
) -> None:
    host = _Host({*PREPARED, KUBELET, ETCD}, _unmarked())
    ctx, pki = await _context(tmp_path, host)
    step = KubeadmJoin(CONFIG, control_plane=True, pki_dir=str(pki))
    assert (await step.precheck(ctx)).detail == f"kubeadm join phase {MARK}"
    await step.run(ctx)
    ran = [c.command for c in host.calls if "kubeadm join" in c.command]
    assert len(ran) == 1
    assert f"kubeadm join phase {MARK} --config {CONFIG}" in ran[0]
    assert not (await step.precheck(ctx)).changed


async def test_a_bootstrap_kubeconfig_left_beside_a_finished_join_is_removed_alone(
    tmp_path: Path,
) -> None:
    marked = _unmarked()
    marked["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] = ""
    host = _Host({*PREPARED, KUBELET, ETCD, BOOTSTRAP}, {**marked, "spec": {"taints": [TAINT]}})
    ctx, pki = await _context(tmp_path, host)
    step = KubeadmJoin(CONFIG, control_plane=True, pki_dir=str(pki))
    assert (await step.precheck(ctx)).detail == f"remove the leftover {BOOTSTRAP}"
    assert (await step.run(ctx)).changed
    assert BOOTSTRAP not in host.files
    assert not any("kubeadm join" in c.command or c.stdin for c in host.calls)  # no config
    assert not (await step.precheck(ctx)).changed


async def test_a_node_the_api_server_cannot_be_asked_about_is_an_error_not_a_guess(
    tmp_path: Path,
) -> None:
    host = _Host({*PREPARED, KUBELET, ETCD}, None, error="Unable to connect to the server")
    ctx, pki = await _context(tmp_path, host)
    step = KubeadmJoin(CONFIG, control_plane=True, pki_dir=str(pki))
    with pytest.raises(KubeadmError, match="cannot ask the API server whether master2 is marked"):
        await step.precheck(ctx)


async def test_phases_that_leave_the_join_unfinished_are_an_error(tmp_path: Path) -> None:
    host = _Host({*PREPARED, KUBELET, ETCD}, None)  # the node never registers: never marked
    ctx, pki = await _context(tmp_path, host)
    step = KubeadmJoin(CONFIG, control_plane=True, pki_dir=str(pki))
    with pytest.raises(KubeadmError, match=f"still to do: {MARK}"):
        await step.run(ctx)
