"""``kubeadm join phase <phase> [<subphase>] --config``: one phase of a join, as kubeadm 1.31-1.34
runs it alone (discovery first, as every phase needs the cluster's configuration; no preflight).

The phase names and each one's flags are kubeadm's (cmd/kubeadm/app/cmd/phases/join/*.go of
those releases): ``update-status`` is gone since 1.31; ``etcd-join`` and
``kubelet-wait-bootstrap`` exist from 1.31 (hidden until 1.33) and run only with the
ControlPlaneKubeletLocalMode gate (on by default from 1.33), when ``control-plane-join etcd``
does nothing and ``kubelet-start`` no longer waits for the TLS bootstrap. Phases kubexms never
runs alone (``preflight``, the parts of ``control-plane-prepare``, ``wait-control-plane``) are
known names the double refuses to run, saying so.
"""

from __future__ import annotations

from collections.abc import Callable

from ._core import root
from .common import KubeadmError, dry_run_dir, parse_flags
from .join import (
    Joining,
    add_etcd_member,
    joining,
    kubelet_start,
    mark,
    prepare_control_plane,
    read_join_configuration,
    wait_bootstrap,
)

_BASE = {"config": True, "dry-run": False, "rootfs": True, "v": True}
_DISCOVERY = {
    "discovery-file": True,
    "discovery-token": True,
    "discovery-token-ca-cert-hash": True,
    "discovery-token-unsafe-skip-ca-verification": False,
    "tls-bootstrap-token": True,
    "token": True,
}
_CONTROL_PLANE = {"control-plane": False, "node-name": True}
_PREPARE = {
    **_BASE,
    **_DISCOVERY,
    **_CONTROL_PLANE,
    "apiserver-advertise-address": True,
    "apiserver-bind-port": True,
    "certificate-key": True,
    "patches": True,
}
_KUBELET_START = {**_BASE, **_DISCOVERY, "cri-socket": True, "node-name": True, "patches": True}
_WAIT_BOOTSTRAP = {**_BASE, "cri-socket": True}
_ETCD = {**_BASE, **_CONTROL_PLANE, "patches": True, "apiserver-advertise-address": True}
_MARK = {**_BASE, **_CONTROL_PLANE}

Run = Callable[[Joining, bool], None]


def _prepare(joined: Joining, dry_run: bool) -> None:
    prepare_control_plane(joined, dry_run_dir("join") if dry_run else root())


def _kubelet_start(joined: Joining, dry_run: bool) -> None:
    out = dry_run_dir("join") if dry_run else root()
    kubelet_start(joined, out, dry_run=dry_run, wait=not joined.local_mode)


def _wait_bootstrap(joined: Joining, dry_run: bool) -> None:
    if not joined.local_mode:
        return  # kubelet-start waited (the phase's RunIf)
    if dry_run:
        print("[kubelet-wait] Would wait for the kubelet to be bootstrapped")
        return
    wait_bootstrap(joined)


def _etcd_join(joined: Joining, dry_run: bool) -> None:
    if not joined.local_mode:
        return  # control-plane-join etcd adds the member (the phase's RunIf)
    _etcd(joined, dry_run)


def _control_plane_join_etcd(joined: Joining, dry_run: bool) -> None:
    if joined.local_mode:
        return  # etcd-join added the member (the phase's RunIf)
    _etcd(joined, dry_run)


def _etcd(joined: Joining, dry_run: bool) -> None:
    if dry_run:
        print(f"[control-plane-join] Would add the etcd member of {joined.node}")
        return
    add_etcd_member(joined)


def _mark(joined: Joining, dry_run: bool) -> None:
    if dry_run:
        print(f"[control-plane-join] Would mark node {joined.node} as a control-plane")
        return
    mark(joined)


def _control_plane_join_all(joined: Joining, dry_run: bool) -> None:
    _control_plane_join_etcd(joined, dry_run)
    _mark(joined, dry_run)


# (phase, subphase) -> its flags, and what it does (None: kubeadm has it, the double does not).
PHASES: dict[tuple[str, ...], tuple[dict[str, bool], Run | None]] = {
    ("preflight",): ({**_PREPARE, "ignore-preflight-errors": True}, None),
    ("control-plane-prepare", "all"): (_PREPARE, _prepare),
    ("control-plane-prepare", "download-certs"): (_PREPARE, None),
    ("control-plane-prepare", "certs"): (_PREPARE, None),
    ("control-plane-prepare", "kubeconfig"): (_PREPARE, None),
    ("control-plane-prepare", "control-plane"): (_PREPARE, None),
    ("kubelet-start",): (_KUBELET_START, _kubelet_start),
    ("etcd-join",): (_ETCD, _etcd_join),
    ("kubelet-wait-bootstrap",): (_WAIT_BOOTSTRAP, _wait_bootstrap),
    ("control-plane-join", "all"): (_ETCD, _control_plane_join_all),
    ("control-plane-join", "etcd"): (_ETCD, _control_plane_join_etcd),
    ("control-plane-join", "mark-control-plane"): (_MARK, _mark),
    ("wait-control-plane",): (_BASE, None),
}


def _phase(argv: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """The phase path (names before the first flag) and the rest, as cobra resolves it."""
    names: list[str] = []
    while len(names) < len(argv) and not argv[len(names)].startswith("-"):
        names.append(argv[len(names)])
    rest = argv[len(names) :]
    if not names:
        raise KubeadmError('"kubeadm join phase" needs a phase: ' + ", ".join(_top()))
    if names[0] not in _top():
        raise KubeadmError(f'unknown command "{names[0]}" for "kubeadm join phase"')
    subphases = [path[1] for path in PHASES if path[0] == names[0] and len(path) > 1]
    depth = 2 if subphases else 1
    if subphases and len(names) == 1:
        raise KubeadmError(
            f'"kubeadm join phase {names[0]}" needs a subphase: ' + ", ".join(subphases)
        )
    if subphases and names[1] not in subphases:
        raise KubeadmError(f'unknown command "{names[1]}" for "kubeadm join phase {names[0]}"')
    if len(names) > depth:
        command = " ".join(names[:depth])
        raise KubeadmError(f'unknown command "{names[depth]}" for "kubeadm join phase {command}"')
    return tuple(names), rest


def _top() -> list[str]:
    return list(dict.fromkeys(path[0] for path in PHASES))


def cmd_join_phase(argv: list[str], version: str) -> None:
    path, rest = _phase(argv)
    known, run = PHASES[path]
    for arg in rest:
        name = arg.lstrip("-").partition("=")[0]
        if arg.startswith("-") and name not in known:
            raise KubeadmError(f"unknown flag: --{name}")
    flags = parse_flags(rest, known)
    if run is None:
        raise KubeadmError(
            f"the kubeadm test double does not run the phase {' '.join(path)!r} alone "
            "(kubexms never does)"
        )
    if "config" not in flags:
        raise KubeadmError("the kubeadm test double needs --config (kubexms always gives one)")
    joined = joining(read_join_configuration(flags["config"], version), version)
    run(joined, "dry-run" in flags)
