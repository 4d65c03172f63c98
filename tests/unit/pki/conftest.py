"""One PKI generated per test session for the sample cluster; tests that change it copy it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubexms.pki import PkiReport, generate_pki

from .support import make_cluster


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> PkiReport:
    """The sample cluster's PKI as first generated (RSA keys, default options)."""
    return generate_pki(make_cluster(), tmp_path_factory.mktemp("pki") / "pki")


@pytest.fixture
def pki_dir(generated: PkiReport) -> Path:
    return generated.directory
