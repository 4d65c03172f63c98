"""runner.system on fleet hosts: sysctl, kernel modules, swap in fstab, hostname, timezone.

Fleet hosts share this machine's kernel: only ``net.*`` sysctls (per network namespace) can
be applied live there, and no module can be loaded; what each operation must do about that
is part of what these tests pin down.
"""

from __future__ import annotations

import pytest

from kubexms.runner import KernelModuleMissingError, SysctlChange, SysctlError
from tests.integration.test_runner_support import USERS, host_runner, on_host, unique
from tests.leasing import LeaseHosts

pytestmark = pytest.mark.fleet


@pytest.mark.parametrize("user", ["root", "deployer"])
async def test_sysctl_applies_net_keys_and_defers_read_only_ones(
    lease: LeaseHosts, user: str
) -> None:
    hosts = lease(1)
    file = f"/etc/sysctl.d/90-{unique()}.conf"
    before = await on_host(hosts, "sysctl -n net.ipv4.ip_forward")
    wanted = "0" if before.strip() == "1" else "1"
    current_swappiness = (await on_host(hosts, "sysctl -n vm.swappiness")).strip()
    other = "7" if current_swappiness != "7" else "8"
    values = {"net.ipv4.ip_forward": wanted, "vm.swappiness": other}
    async with host_runner(hosts, user) as runner:
        try:
            first = await runner.system.sysctl(values, file=file)
            assert isinstance(first, SysctlChange)
            assert first.changed
            assert first.deferred == ("vm.swappiness",)
            assert await on_host(hosts, "sysctl -n net.ipv4.ip_forward") == f"{wanted}\n"
            assert await on_host(hosts, f"cat {file}") == (
                f"# Managed by kubexms.\nnet.ipv4.ip_forward = {wanted}\nvm.swappiness = {other}\n"
            )
            second = await runner.system.sysctl(values, file=file)
            assert not second.changed
            assert second.deferred == ("vm.swappiness",)
            with pytest.raises(SysctlError, match=r"net\.nosuch\.key"):
                await runner.system.sysctl({"net.nosuch.key": 1}, file=file)
            assert "nosuch" not in await on_host(hosts, f"cat {file}")
        finally:
            await on_host(hosts, f"rm -f {file}; sysctl -qw net.ipv4.ip_forward={before}")


@pytest.mark.parametrize("user", USERS)
async def test_built_in_kernel_modules_count_as_loaded(lease: LeaseHosts, user: str) -> None:
    hosts = lease(1)
    file = f"/etc/modules-load.d/{unique()}.conf"
    async with host_runner(hosts, user) as runner:
        try:
            modules = ["overlay", "br_netfilter", "nf_conntrack"]
            first = await runner.system.kernel_modules(modules, file=file)
            assert first.changed
            assert "loaded" not in first.detail  # built in: nothing to load
            assert not (await runner.system.kernel_modules(modules, file=file)).changed
            assert await on_host(hosts, f"cat {file}") == "overlay\nbr_netfilter\nnf_conntrack\n"
            with pytest.raises(KernelModuleMissingError, match="kxms_no_such_module"):
                await runner.system.kernel_modules(["overlay", "kxms_no_such_module"], file=file)
            assert "kxms" not in await on_host(hosts, f"cat {file}")
        finally:
            await on_host(hosts, f"rm -f {file}")


def machine_has_swap() -> bool:
    with open("/proc/swaps") as swaps:
        return len(swaps.readlines()) > 1


async def test_swap_entries_are_commented_out_in_fstab(lease: LeaseHosts) -> None:
    hosts = lease(1)
    if machine_has_swap():
        pytest.skip("this machine has swap: hosts share its kernel, never turn it off here")
    fstab = f"/etc/{unique('fstab')}"
    original = "proc /proc proc defaults 0 0\n/swapfile none swap sw 0 0\n# /old none swap sw 0 0\n"
    await on_host(hosts, f"printf '%s' '{original}' > {fstab}; chmod 640 {fstab}")
    async with host_runner(hosts, "ops") as runner:
        try:
            change = await runner.system.swap_off(fstab=fstab)
            assert change.changed
            assert change.detail == "fstab"
            assert not (await runner.system.swap_off(fstab=fstab)).changed
            text = await on_host(hosts, f"cat {fstab}")
            assert text == (
                "proc /proc proc defaults 0 0\n"
                "# /swapfile none swap sw 0 0  # swap disabled by kubexms\n"
                "# /old none swap sw 0 0\n"
            )
            assert await on_host(hosts, f"stat -c %a {fstab}") == "640\n"
        finally:
            await on_host(hosts, f"rm -f {fstab}")


@pytest.mark.parametrize("user", ["root", "ops"])
async def test_hostname_now_and_on_boot(lease: LeaseHosts, user: str) -> None:
    hosts = lease(1)
    host = hosts[0]
    renamed = unique("kxms-renamed")
    async with host_runner(hosts, user) as runner:
        try:
            assert (await runner.system.hostname(renamed)).changed
            assert not (await runner.system.hostname(renamed)).changed
            assert await on_host(hosts, "hostname") == f"{renamed}\n"
            assert await on_host(hosts, "cat /etc/hostname") == f"{renamed}\n"
        finally:
            restored = await runner.system.hostname(host.name)
            assert restored.changed
    assert await on_host(hosts, "hostname; cat /etc/hostname") == f"{host.name}\n" * 2


async def test_timezone(lease: LeaseHosts) -> None:
    hosts = lease(1)
    link = (await on_host(hosts, "readlink /etc/localtime || true")).strip()
    had_file = (await hosts.exec(hosts[0], "test -f /etc/timezone"))[0] == 0
    old_file = await on_host(hosts, "cat /etc/timezone") if had_file else ""
    zone = "Asia/Tokyo" if "Tokyo" not in link else "Europe/Berlin"
    async with host_runner(hosts, "deployer") as runner:
        try:
            assert (await runner.system.timezone(zone)).changed
            assert not (await runner.system.timezone(zone)).changed
            assert await on_host(hosts, "readlink /etc/localtime") == (
                f"/usr/share/zoneinfo/{zone}\n"
            )
            if zone == "Asia/Tokyo":
                assert await on_host(hosts, "date +%Z") == "JST\n"
            if had_file:
                assert await on_host(hosts, "cat /etc/timezone") == f"{zone}\n"
        finally:
            if link:
                await on_host(hosts, f"ln -sfn {link} /etc/localtime")
            if had_file:
                await on_host(hosts, f"printf '%s' '{old_file}' > /etc/timezone")
