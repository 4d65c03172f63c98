"""Run the double of one component: ``main(binary, argv, version)``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .common import checked_version, fail
from .components import kube_controller_manager, kube_proxy, kube_scheduler

DOUBLES: dict[str, Callable[[str, Sequence[str]], None]] = {
    "kube-controller-manager": kube_controller_manager,
    "kube-scheduler": kube_scheduler,
    "kube-proxy": kube_proxy,
}


def main(binary: str, argv: Sequence[str], version: str) -> int:
    """Run the double of ``binary`` playing ``version``; it returns only on a fatal error."""
    if binary not in DOUBLES:
        fail(f"kubexms test double: no double of {binary!r}")
    DOUBLES[binary](checked_version(version), argv)
    return 0
