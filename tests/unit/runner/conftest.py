from __future__ import annotations

import pytest

from kubexms.runner import Runner
from tests.unit.runner.fakes import ShellConnector


@pytest.fixture
def shell() -> ShellConnector:
    return ShellConnector()


@pytest.fixture
def runner(shell: ShellConnector) -> Runner:
    return Runner(shell)
