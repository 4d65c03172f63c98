"""``fleet.json``: everything a fleet made on the machine, so it can be found and removed.

Written before anything is created and updated as things are, so a crash at any point leaves a
record that ``fleet_down`` can act on. It holds the fleet's passwords, so it is mode 0600.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from kubexms.sandbox._errors import SandboxError
from kubexms.sandbox._keys import write_private_file
from kubexms.sandbox._process import ProcessIdentity

__all__ = ["STATE_FILE", "FleetState", "HostState", "ProcessRecord", "read_state", "write_state"]

STATE_FILE = "fleet.json"


class ProcessRecord(BaseModel):
    """A process we started, recognisable later by its start time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pid: int
    start_time: int

    @classmethod
    def of(cls, identity: ProcessIdentity) -> ProcessRecord:
        """Record a process identity."""
        return cls(pid=identity.pid, start_time=identity.start_time)

    def identity(self) -> ProcessIdentity:
        """The identity to check and signal this process by."""
        return ProcessIdentity(pid=self.pid, start_time=self.start_time)


class HostState(BaseModel):
    """One host as recorded."""

    model_config = ConfigDict(extra="forbid")

    name: str
    index: int
    address: str
    netns: str
    veth: str
    cgroups: list[str] = []
    mounts: list[str] = []  # mount points under the fleet directory, in the host's namespace
    launcher: ProcessRecord | None = None  # systemd-nspawn, or unshare (minimal)
    init: ProcessRecord | None = None  # the host's PID 1, seen from the machine


class FleetState(BaseModel):
    """A whole fleet as recorded."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    directory: str
    init: Literal["systemd", "minimal"]
    phase: Literal["starting", "running"] = "starting"
    subnet: str
    gateway: str
    bridge: str
    prefix: str
    cgroups: list[str] = []  # fleet-level cgroup directories, one per hierarchy
    inotify_reserved: bool = False
    passwords: dict[str, str] = {}
    hosts: list[HostState] = []


def write_state(directory: Path, state: FleetState) -> None:
    """Atomically (re)write the fleet's state file with mode 0600."""
    write_private_file(directory / STATE_FILE, (state.model_dump_json(indent=2) + "\n").encode())


def read_state(directory: Path) -> FleetState | None:
    """The recorded fleet in ``directory``, or None if there is none."""
    path = directory / STATE_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SandboxError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return FleetState.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise SandboxError(f"{path} is not a fleet state file kubexms can read: {exc}") from exc
