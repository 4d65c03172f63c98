"""Helpers for ScriptedConnector tests: canned facts and marker answers."""

from __future__ import annotations

from kubexms.runner._facts import FACTS_SCRIPT
from tests.unit.runner.fakes import Call, Handler


def facts_output(package_manager: str = "apt-get", init: str = "systemd") -> str:
    return (
        "os_id=debian\nos_version=12\nos_name=Debian\nkernel=6.1.0\nmachine=x86_64\n"
        f"hostname=h\ncpus=2\nmemory_kib=2048000\ninit={init}\n"
        f"package_manager={package_manager}\ndefault_ipv4=10.0.0.2\n"
    )


def with_facts(handler: Handler, package_manager: str = "apt-get") -> Handler:
    """Answer the facts script with canned facts, everything else with ``handler``."""

    def answer(call: Call) -> tuple[int, str] | str:
        if call.command == FACTS_SCRIPT:
            return facts_output(package_manager)
        return handler(call)

    return answer
