"""runner.network on a fleet host: a listener inside the host's own network namespace."""

from __future__ import annotations

import pytest

from kubexms.runner import PortWaitTimeoutError
from tests.integration.test_runner_support import host_runner, on_host, unique
from tests.leasing import LeaseHosts

pytestmark = pytest.mark.fleet

PORT = 18473


async def test_port_checks_and_wait(lease: LeaseHosts) -> None:
    hosts = lease(1, init="systemd")  # the listener is started as a transient systemd unit
    unit = unique("kxms-listener")
    async with host_runner(hosts, "ops") as runner:
        assert not await runner.network.is_port_open(PORT)
        with pytest.raises(PortWaitTimeoutError, match=str(PORT)):
            await runner.network.wait_for_port(PORT, timeout=0.6, interval=0.2)
        try:
            await on_host(
                hosts,
                f"systemd-run --unit {unit} /bin/sh -c 'sleep 1; exec python3 -m http.server "
                f"--bind 127.0.0.1 {PORT}'",
            )
            await runner.network.wait_for_port(PORT, timeout=20, interval=0.2)
            assert await runner.network.is_port_open(PORT)
        finally:
            await on_host(hosts, f"systemctl stop {unit} 2>/dev/null || true")
        assert not await runner.network.is_port_open(PORT)
