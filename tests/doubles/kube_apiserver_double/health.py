"""``/healthz``, ``/livez``, ``/readyz`` (with ``?verbose`` and single checks) and ``/version``."""

from __future__ import annotations

import threading
from typing import Any

from .errors import ApiError
from .etcd import EtcdClient


def version_document(version: str) -> dict[str, Any]:
    major, minor = version.lstrip("v").split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "gitVersion": version,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "kubexms test double",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def health_report(
    path: str, verbose: bool, etcd: EtcdClient, stopping: threading.Event
) -> tuple[int, str]:
    """(HTTP code, body) of a health path: ok while etcd answers a read (and, for readyz, until
    SIGTERM), with the real check names when verbose or failing."""
    kind = path.split("/")[1]
    checks = ["ping", "log", "etcd"]
    if kind == "readyz":
        checks += [
            "etcd-readiness",
            "informer-sync",
            "poststarthook/start-apiextensions-controllers",
            "shutdown",
        ]
    failed = set()
    if stopping.is_set() and kind == "readyz":
        failed.add("shutdown")
    if not etcd.healthy():
        failed |= {"etcd", "etcd-readiness"}
    only = path.split("/", 2)[2] if path.count("/") >= 2 else ""
    if only:
        if only not in checks:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        checks = [only]
        failed &= {only}
    if not failed and not verbose:
        return 200, "ok"
    lines = [f"[-]{c} failed: reason withheld" if c in failed else f"[+]{c} ok" for c in checks]
    lines.append(f"{kind} check {'failed' if failed else 'passed'}")
    return (500 if failed else 200), "\n".join(lines) + "\n"
