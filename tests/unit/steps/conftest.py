"""The steps' scripts run in this machine's shell here: their digest records go under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubexms.steps import _probe


@pytest.fixture(autouse=True)
def digest_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The directory a test's probes keep their digest records in (never the machine's)."""
    directory = tmp_path / "digest-records"
    monkeypatch.setattr(_probe, "DIGESTS_DIRECTORY", str(directory))
    return directory
