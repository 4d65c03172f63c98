"""One PKI generated per test session for the sample cluster; tests that change it copy it.

RSA 2048 keys cost ~0.1 s each (a PKI has 23): tests other than the session PKI take real keys
from a pool made once per session, in turn (``PREMADE_RSA_KEYS`` distinct ones before any is
handed out again), so a test that regenerates part of a PKI still gets keys it has not seen.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubexms.pki import PkiReport, _generate, generate_pki
from kubexms.pki._keys import PrivateKey, new_private_key
from kubexms.pki._options import KeyType

from .support import make_cluster

PREMADE_RSA_KEYS = 40


class RsaKeyPool:
    """Real RSA keys, made on first demand up to ``size``, then handed out again in turn."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._keys: list[PrivateKey] = []
        self._next = 0

    def take(self, key_type: KeyType) -> PrivateKey:
        if key_type != "rsa":
            return new_private_key(key_type)  # ECDSA keys are cheap
        if len(self._keys) < self._size:
            self._keys.append(new_private_key("rsa"))
            return self._keys[-1]
        key = self._keys[self._next % self._size]
        self._next += 1
        return key


@pytest.fixture(scope="session")
def rsa_key_pool() -> RsaKeyPool:
    return RsaKeyPool(PREMADE_RSA_KEYS)


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> PkiReport:
    """The sample cluster's PKI as first generated (RSA keys, default options; its own keys,
    never the pool's, so a test changing a copy cannot be handed one of them again)."""
    return generate_pki(make_cluster(), tmp_path_factory.mktemp("pki") / "pki")


@pytest.fixture(autouse=True)
def _premade_rsa_keys(rsa_key_pool: RsaKeyPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_generate, "new_private_key", rsa_key_pool.take)


@pytest.fixture
def pki_dir(generated: PkiReport) -> Path:
    return generated.directory
