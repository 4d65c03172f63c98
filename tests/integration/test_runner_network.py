"""runner.network on a fleet host: a listener inside the host's own network namespace."""

from __future__ import annotations

import pytest

from kubexms.runner import PortWaitTimeoutError
from kubexms.sandbox import Fleet
from tests.integration.test_runner_support import host_runner, on_host, unique

pytestmark = pytest.mark.fleet

PORT = 18473


async def test_port_checks_and_wait(fleet: Fleet) -> None:
    if fleet.hosts[-2].init != "systemd":
        pytest.skip("the listener is started as a transient systemd unit")
    unit = unique("kxms-listener")
    async with host_runner(fleet, -2, "ops") as runner:
        assert not await runner.network.is_port_open(PORT)
        with pytest.raises(PortWaitTimeoutError, match=str(PORT)):
            await runner.network.wait_for_port(PORT, timeout=0.6, interval=0.2)
        try:
            await on_host(
                fleet,
                -2,
                f"systemd-run --unit {unit} /bin/sh -c 'sleep 1; exec python3 -m http.server "
                f"--bind 127.0.0.1 {PORT}'",
            )
            await runner.network.wait_for_port(PORT, timeout=20, interval=0.2)
            assert await runner.network.is_port_open(PORT)
        finally:
            await on_host(fleet, -2, f"systemctl stop {unit} 2>/dev/null || true")
        assert not await runner.network.is_port_open(PORT)
