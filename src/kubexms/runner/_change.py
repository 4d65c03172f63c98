"""What an operation did: whether it changed the host, and a short account of it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Change:
    """The result of one host operation.

    ``changed`` is False when the host was already in the requested state, so running the
    same operation twice reports a change only the first time. ``action`` names what was
    asked (``"write /etc/hosts"``); ``detail`` says what was done, if anything.
    """

    changed: bool
    action: str
    detail: str = ""

    def __str__(self) -> str:
        state = "changed" if self.changed else "unchanged"
        return f"{self.action}: {state}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True, slots=True)
class SysctlChange(Change):
    """A sysctl result. ``deferred`` lists keys written to the persistent file but not
    applied now because the host's ``/proc/sys`` entry is read-only (a container, or a
    simulated host); they take effect at the next boot of a real machine."""

    deferred: tuple[str, ...] = ()


def combine(action: str, changes: list[Change]) -> Change:
    """One Change standing for several: changed if any of them was."""
    done = [change.detail or change.action for change in changes if change.changed]
    return Change(bool(done), action, "; ".join(done))
