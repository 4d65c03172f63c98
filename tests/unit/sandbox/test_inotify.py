"""How fleets share the raised inotify limit, on scratch files instead of the machine's.

The fleet tests cannot compare the machine-wide limit (other fleets on the machine change it),
so the arithmetic is pinned here: shares add up, and the last fleet down restores the original.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubexms.sandbox import _inotify


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    sysctl, state = tmp_path / "max_user_instances", tmp_path / "run" / "sandbox-inotify.json"
    sysctl.write_text("128\n")
    monkeypatch.setattr(_inotify, "_SYSCTL", sysctl)
    monkeypatch.setattr(_inotify, "_STATE", state)
    return sysctl, state


def test_shares_add_up_and_the_last_fleet_restores_the_original(
    machine: tuple[Path, Path],
) -> None:
    sysctl, state = machine
    _inotify._reserve("/fleet/a", 10)
    assert int(sysctl.read_text()) == 256 + 16 * 10
    _inotify._reserve("/fleet/b", 5)
    assert int(sysctl.read_text()) == 256 + 16 * 15
    assert json.loads(state.read_text()) == {
        "original": 128,
        "fleets": {"/fleet/a": 10, "/fleet/b": 5},
    }
    _inotify._release("/fleet/a")
    assert int(sysctl.read_text()) == 256 + 16 * 5
    _inotify._release("/fleet/b")
    assert int(sysctl.read_text()) == 128
    assert not state.exists()
    _inotify._release("/fleet/b")  # releasing twice changes nothing
    assert int(sysctl.read_text()) == 128


def test_a_higher_original_is_never_lowered(machine: tuple[Path, Path]) -> None:
    sysctl, _ = machine
    sysctl.write_text("100000\n")
    _inotify._reserve("/fleet/a", 3)
    assert int(sysctl.read_text()) == 100000
    _inotify._release("/fleet/a")
    assert int(sysctl.read_text()) == 100000
