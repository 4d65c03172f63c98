"""What every kubeadm double command shares: host paths (under ``KUBEXMS_DOUBLE_ROOT`` in the
double's own tests), atomic writes, flags, the strict ``--config`` reader, preflight."""

from __future__ import annotations

import os
import re
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ._core import flags, host, schema

parse_duration = flags.parse_duration

DEFAULT_VERSION = "v1.31.4"

TOKEN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")

KUBEADM_API = "kubeadm.k8s.io/v1beta4"

CONF = "/etc/kubernetes"

KUBELET_DIR = "/var/lib/kubelet"

ETCD_TAGS = {"1.31": "3.5.15-0", "1.32": "3.5.16-0", "1.33": "3.5.21-0", "1.34": "3.6.4-0"}

CONFIG_ONLY = {
    "apiserver-advertise-address",
    "apiserver-bind-port",
    "control-plane-endpoint",
    "kubernetes-version",
    "pod-network-cidr",
    "service-cidr",
    "token",
    "discovery-token",
    "discovery-token-ca-cert-hash",
    "node-name",
    "cri-socket",
    "control-plane",
}


class KubeadmError(Exception):
    """kubeadm stops: the message as kubeadm prints it (exit 1)."""


def minor(version: str) -> str:
    return ".".join(version.lstrip("v").split(".")[:2])


def parse_flags(argv: list[str], known: dict[str, bool]) -> dict[str, str]:
    """``--name=value`` / ``--name value`` / bool ``--name``; unknown flags refused."""
    found: dict[str, str] = {}
    index = 0
    while index < len(argv):
        arg = argv[index]
        if not arg.startswith("-"):
            raise KubeadmError(f'unknown command "{arg}"')
        name, has_value, value = arg.lstrip("-").partition("=")
        if name in CONFIG_ONLY:
            raise KubeadmError(f"can not mix '--config' with arguments [{name}]")
        if name not in known:
            raise KubeadmError(f"unknown flag: --{name}")
        if known[name] and not has_value:
            index += 1
            if index >= len(argv):
                raise KubeadmError(f"flag needs an argument: --{name}")
            value = argv[index]
        found[name] = value if known[name] or has_value else "true"
        index += 1
    return found


def load_config(path: str, allowed: set[str], version: str) -> dict[str, dict[str, Any]]:
    """The documents of a ``--config`` file by kind, each checked strictly."""
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise KubeadmError(f"unable to read config from {path!r}: {error.strerror}") from None
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        raise KubeadmError(f"unable to decode config from {path!r}: {error}") from None
    found: dict[str, dict[str, Any]] = {}
    for document in documents:
        if not isinstance(document, dict) or "kind" not in document or "apiVersion" not in document:
            raise KubeadmError(f"{path}: a document without apiVersion and kind")
        kind = document["kind"]
        if kind not in allowed:
            print(
                f"[config] WARNING: Ignored YAML document with GroupVersionKind "
                f"{document['apiVersion']}, Kind={kind}",
                file=sys.stderr,
            )
            continue
        if kind in schema.KUBEADM_KINDS and document["apiVersion"] != KUBEADM_API:
            raise KubeadmError(
                f"{path}: {kind} {document['apiVersion']} is not supported; use {KUBEADM_API}"
            )
        problems = schema.check(document, minor(version))
        if problems:
            raise KubeadmError(f"strict decoding error in {path}: " + "; ".join(problems))
        if kind in found:
            raise KubeadmError(f"{path}: {kind} is given twice")
        found[kind] = document
    return found


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def preflight(errors: list[str], ignored: set[str]) -> None:
    shown = [
        e
        for e in errors
        if e.split("]")[0].removeprefix("[ERROR ").lower() not in ignored and "all" not in ignored
    ]
    if shown:
        raise KubeadmError(
            "[preflight] Some fatal errors occurred:\n\t"
            + "\n\t".join(shown)
            + "\n[preflight] If you know what you are doing, you can make a check non-fatal with "
            "`--ignore-preflight-errors=...`"
        )


def common_preflight(registration: dict[str, Any], ports: list[int]) -> list[str]:
    errors = []
    if os.geteuid() != 0 and "KUBEXMS_DOUBLE_ROOT" not in os.environ:
        errors.append("[ERROR IsPrivilegedUser]: user is not running as root")
    socket_path = registration.get("criSocket", "unix:///var/run/containerd/containerd.sock")
    if not host(socket_path.removeprefix("unix://")).exists():
        errors.append(f"[ERROR CRI]: container runtime is not running: {socket_path} is absent")
    for port in ports:
        if "KUBEXMS_DOUBLE_ROOT" not in os.environ and port_in_use(port):
            errors.append(f"[ERROR Port-{port}]: Port {port} is in use")
    return errors


def configmap(namespace: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


def previous_minor(minor_version: str) -> str:
    major, number = minor_version.split(".")
    return f"{major}.{int(number) - 1}"


def is_newer(wanted: str, version: str) -> bool:
    def parts(text: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", text)[:3])

    return parts(wanted) > parts(version)


def dry_run_dir(command: str) -> Path:
    """Where ``--dry-run`` writes instead (kubeadm's ``/etc/kubernetes/tmp/kubeadm-*-dryrun*``)."""
    parent = host(f"{CONF}/tmp")
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"kubeadm-{command}-dryrun", dir=parent))
