"""runner.services against real systemd (PID 1) on a fleet host."""

from __future__ import annotations

import pytest

from kubexms.runner import Runner, ServiceNotActiveError
from tests.integration.test_runner_support import host_runner, on_host, unique
from tests.leasing import HostLease, LeaseHosts

pytestmark = pytest.mark.fleet

UNIT = """[Unit]
Description=kubexms runner test unit

[Service]
ExecStart=/bin/sh -c 'echo "started with $KXMS_GREETING"; exec sleep infinity'

[Install]
WantedBy=multi-user.target
"""


async def remove_unit(hosts: HostLease, unit: str) -> None:
    await on_host(
        hosts,
        f"systemctl disable --now {unit} >/dev/null 2>&1 || true; "
        f"rm -rf /etc/systemd/system/{unit} /etc/systemd/system/{unit}.d; "
        f"systemctl daemon-reload; systemctl reset-failed {unit} 2>/dev/null || true",
    )


async def lifecycle(hosts: HostLease, runner: Runner) -> None:
    unit = f"{unique('kxms-unit')}.service"
    try:
        drop_ins = {"10-env.conf": "[Service]\nEnvironment=KXMS_GREETING=hello\n"}
        installed = await runner.services.install_unit(unit, UNIT, drop_ins=drop_ins)
        assert installed.changed
        assert "daemon reloaded" in installed.detail
        again = await runner.services.install_unit(unit, UNIT, drop_ins=drop_ins)
        assert not again.changed
        assert await on_host(hosts, f"systemctl show -p Environment --value {unit}") == (
            "KXMS_GREETING=hello\n"
        )
        assert (await runner.services.enable(unit)).changed
        assert not (await runner.services.enable(unit)).changed
        assert await on_host(hosts, f"systemctl is-enabled {unit}") == "enabled\n"
        assert (await runner.services.start(unit)).changed
        assert not (await runner.services.start(unit)).changed
        await runner.services.wait_until_active(unit, timeout=20)
        assert await runner.services.is_active(unit)
        assert await on_host(hosts, f"systemctl is-active {unit}") == "active\n"
        pid = await on_host(hosts, f"systemctl show -p MainPID --value {unit}")
        assert (await runner.services.restart(unit)).changed
        await runner.services.wait_until_active(unit, timeout=20)
        assert await on_host(hosts, f"systemctl show -p MainPID --value {unit}") != pid
        assert (await runner.services.stop(unit)).changed
        assert not (await runner.services.stop(unit)).changed
        code, out, _ = await hosts.exec(hosts[0], f"systemctl is-active {unit}")
        assert (code, out) == (3, "inactive\n")
        assert (await runner.services.disable(unit)).changed
        assert not await runner.services.is_enabled(unit)
    finally:
        await remove_unit(hosts, unit)


@pytest.mark.parametrize("user", ["root", "deployer"])
async def test_unit_lifecycle(lease: LeaseHosts, user: str) -> None:
    hosts = lease(1, init="systemd")
    async with host_runner(hosts, user) as runner:
        await lifecycle(hosts, runner)


async def test_failing_unit_reports_its_journal(lease: LeaseHosts) -> None:
    hosts = lease(1, init="systemd")
    unit = f"{unique('kxms-broken')}.service"
    token = unique("boom")
    content = f"[Service]\nExecStart=/bin/sh -c 'echo {token} >&2; exit 3'\n"
    async with host_runner(hosts, "ops") as runner:
        try:
            await runner.services.install_unit(unit, content)
            await runner.services.start(unit)
            with pytest.raises(ServiceNotActiveError) as caught:
                await runner.services.wait_until_active(unit, timeout=10, interval=0.2)
            assert caught.value.state == "failed"
            assert token in caught.value.journal
            assert token in str(caught.value)
        finally:
            await remove_unit(hosts, unit)


async def test_unit_that_never_becomes_active_times_out(lease: LeaseHosts) -> None:
    hosts = lease(1, init="systemd")
    unit = f"{unique('kxms-slow')}.service"
    content = "[Service]\nType=oneshot\nExecStart=/bin/sleep 30\nTimeoutStartSec=60\n"
    async with host_runner(hosts) as runner:
        try:
            await runner.services.install_unit(unit, content)
            await on_host(hosts, f"systemctl start --no-block {unit}")
            with pytest.raises(ServiceNotActiveError) as caught:
                await runner.services.wait_until_active(unit, timeout=1.5, interval=0.3)
            assert caught.value.state == "activating"
        finally:
            await remove_unit(hosts, unit)
