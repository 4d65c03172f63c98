"""Check mode on fleet hosts: ``check=True`` leaves the host as it was (read back inside the
host, not over SSH) and returns exactly the Change the real run then reports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from kubexms.runner import Change
from tests.integration.test_runner_packages import PACKAGE, absent, hello_deb
from tests.integration.test_runner_services import UNIT, remove_unit
from tests.integration.test_runner_support import host_runner, on_host, unique
from tests.leasing import HostLease, LeaseHosts

pytestmark = pytest.mark.fleet

__all__ = ["hello_deb"]  # a fixture this module uses


async def predicts(
    hosts: HostLease, state: str, operation: Callable[[bool], Awaitable[Change]]
) -> Change:
    """``state``: a shell command printing what the operation changes on the host."""
    before = await on_host(hosts, state)
    predicted = await operation(True)
    assert await on_host(hosts, state) == before, "check mode changed the host"
    real = await operation(False)
    assert real == predicted
    assert not (await operation(True)).changed
    return real


async def test_sysctl_and_kernel_modules(lease: LeaseHosts) -> None:
    hosts = lease(1)
    file, modules_file = f"/etc/sysctl.d/90-{unique()}.conf", f"/etc/modules-load.d/{unique()}.conf"
    before = (await on_host(hosts, "sysctl -n net.ipv4.ip_forward")).strip()
    wanted = "0" if before == "1" else "1"
    values = {"net.ipv4.ip_forward": wanted, "vm.swappiness": "7"}
    state = f"sysctl -n net.ipv4.ip_forward; cat {file} 2>/dev/null; cat {modules_file} || true"
    async with host_runner(hosts, "deployer") as runner:
        try:
            change = await predicts(
                hosts, state, lambda check: runner.system.sysctl(values, file=file, check=check)
            )
            assert change.detail.startswith(f"{file}: new file; applied net.ipv4.ip_forward")
            modules = await predicts(
                hosts,
                state,
                lambda check: runner.system.kernel_modules(
                    ["overlay", "br_netfilter"], file=modules_file, check=check
                ),
            )
            assert modules.detail == f"{modules_file}: new file"
        finally:
            await on_host(
                hosts, f"rm -f {file} {modules_file}; sysctl -qw net.ipv4.ip_forward={before}"
            )


async def test_hostname_timezone_and_swap(lease: LeaseHosts) -> None:
    hosts = lease(1)
    name = (await on_host(hosts, "hostname")).strip()
    zone = (await on_host(hosts, "readlink /etc/localtime || true")).strip()
    await on_host(hosts, "cp /etc/hostname /etc/hostname.kxms-aside; echo other > /etc/hostname")
    state = "cat /etc/hostname; readlink /etc/localtime || true; cat /etc/fstab"
    try:
        async with host_runner(hosts) as runner:
            named = await predicts(
                hosts, state, lambda check: runner.system.hostname(name, check=check)
            )
            assert named.detail == "/etc/hostname"
            other = "Europe/Berlin" if not zone.endswith("Europe/Berlin") else "Asia/Tokyo"
            moved = await predicts(
                hosts, state, lambda check: runner.system.timezone(other, check=check)
            )
            assert moved.detail.startswith("/etc/localtime")
            swap = await runner.system.swap_off(check=True)
            assert swap == await runner.system.swap_off()
    finally:
        await on_host(
            hosts,
            "mv /etc/hostname.kxms-aside /etc/hostname; "
            + (f"ln -sf {zone} /etc/localtime" if zone else "rm -f /etc/localtime"),
        )


async def test_service_operations(lease: LeaseHosts) -> None:
    hosts = lease(1, init="systemd")
    unit = f"{unique('kxms-check')}.service"
    state = (
        f"cat /etc/systemd/system/{unit} 2>/dev/null; systemctl is-enabled {unit} || true; "
        f"systemctl is-active {unit} || true; systemctl show -p MainPID --value {unit}"
    )
    async with host_runner(hosts, "ops") as runner:
        services = runner.services
        try:
            installed = await predicts(
                hosts, state, lambda check: services.install_unit(unit, UNIT, check=check)
            )
            assert installed.detail == f"/etc/systemd/system/{unit}: new file; daemon reloaded"
            enabled = await predicts(hosts, state, lambda c: services.enable(unit, check=c))
            assert enabled.detail == f"enabled {unit}"
            started = await predicts(hosts, state, lambda c: services.start(unit, check=c))
            assert started.detail == f"started {unit}"
            before = await on_host(hosts, state)
            restart = await services.restart(unit, check=True)
            assert await on_host(hosts, state) == before
            assert restart == await services.restart(unit)
            assert restart.detail == f"restarted {unit}"
            await services.wait_until_active(unit, timeout=20)
            stopped = await predicts(hosts, state, lambda c: services.stop(unit, check=c))
            assert stopped.detail == f"stopped {unit}"
        finally:
            await remove_unit(hosts, unit)


async def test_package_files_install_and_remove(lease: LeaseHosts, hello_deb: Path) -> None:
    hosts = lease(1)
    await absent(hosts)
    state = f"dpkg-query -W -f='${{Status}}' {PACKAGE} 2>/dev/null || true; ls /var/tmp"
    async with host_runner(hosts, "deployer") as runner:
        try:
            installed = await predicts(
                hosts, state, lambda c: runner.packages.install_files([hello_deb], check=c)
            )
            assert installed.detail == PACKAGE
            assert await runner.packages.installed([PACKAGE, "dpkg", "kxms-no-such"]) == {
                PACKAGE: True,
                "dpkg": True,
                "kxms-no-such": False,
            }
            repeated = await runner.packages.install([PACKAGE], check=True)
            assert not repeated.changed
            removed = await predicts(
                hosts, state, lambda c: runner.packages.remove([PACKAGE], check=c)
            )
            assert removed.detail == PACKAGE
        finally:
            await absent(hosts)
