"""Preflight checks against scripted hosts: each failure is a sentence naming the host, what
is wrong and what is needed; passing hosts pass."""

from __future__ import annotations

import time

import pytest

from kubexms.engine import CheckFailedError
from kubexms.hostprep import kernel_modules
from kubexms.preflight import (
    CLOCK_OFFSET,
    DEFAULT_MINIMUMS,
    ROLE_MINIMUMS,
    ClockSkew,
    KernelModulesAvailable,
    PortsFree,
    Reachable,
    Resources,
    SupportedOS,
    parse_version,
    ports_by_role,
)
from kubexms.testing import cluster_of
from tests.unit.hostprep.scripted import Script, scripted_context


def test_versions() -> None:
    assert parse_version("6.1.0-18-amd64") == (6, 1, 0)
    assert parse_version("20.04") == (20, 4)
    assert parse_version("bookworm") == ()
    assert parse_version("4.18") < parse_version("4.19") < parse_version("5")


async def test_reachable_needs_root() -> None:
    _, ctx = await scripted_context(Script().on("id -u", "0\n"))
    await Reachable().verify(ctx)
    _, ctx = await scripted_context(Script().on("id -u", "1000\n"))
    with pytest.raises(CheckFailedError, match="node1: commands run as uid 1000"):
        await Reachable().verify(ctx)


async def test_supported_os_passes_debian_12() -> None:
    _, ctx = await scripted_context(Script())
    assert await SupportedOS().precheck(ctx)


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        ({"os_id": "arch", "os_name": "Arch Linux"}, "Arch Linux is not supported"),
        ({"os_id": "ubuntu", "os_version": "18.04"}, "ubuntu 18.04 is too old"),
        ({"kernel": "3.10.0-1160.el7.x86_64"}, "kernel 3.10.0-1160.el7.x86_64 is too old"),
        ({"machine": "riscv64"}, "architecture riscv64 is not amd64 or arm64"),
        ({"init": "tini"}, "init is tini, not systemd"),
        ({"package_manager": "apk"}, "no apt, dnf or yum"),
    ],
)
async def test_unsupported_hosts(facts: dict[str, str], message: str) -> None:
    script = Script()
    script.facts.update(facts)
    _, ctx = await scripted_context(script)
    with pytest.raises(CheckFailedError, match=message):
        await SupportedOS().verify(ctx)


async def test_resources_by_role() -> None:
    script = Script()
    script.facts.update(cpus="1", memory_kib=str(1500 * 1024))
    check = Resources(ROLE_MINIMUMS, DEFAULT_MINIMUMS)
    _, master = await scripted_context(script, host=0)
    with pytest.raises(CheckFailedError, match=r"1 CPU\(s\), need 2 and 1500 MiB .* need 1700"):
        await check.verify(master)
    _, worker = await scripted_context(script, host=1)
    await check.verify(worker)  # a worker needs 1 CPU and 1 GiB


async def test_ports_in_use_are_named() -> None:
    listening = "".join(f"{port:04X}\n" for port in (22, 6443, 2379))
    script = Script().on("/proc/net/tcp", listening)
    check = PortsFree(ports_by_role(cluster_of(2)))
    _, master = await scripted_context(script, host=0)  # master and etcd
    with pytest.raises(CheckFailedError, match=r"TCP port\(s\) 2379, 6443 already in use"):
        await check.verify(master)
    _, worker = await scripted_context(script, host=1)
    await check.verify(worker)


async def test_missing_module_is_named_with_its_reason() -> None:
    ipvs = cluster_of(1, extra_spec={"kubernetes": {"kubeProxy": {"mode": "ipvs"}}})
    script = Script().on("kx_present", "absent ip_vs\nabsent ip_vs_rr\n")
    _, ctx = await scripted_context(script, config=ipvs)
    with pytest.raises(CheckFailedError) as failed:
        await KernelModulesAvailable(kernel_modules(ipvs)).verify(ctx)
    message = str(failed.value)
    assert "ip_vs, ip_vs_rr (needed because kubernetes.kubeProxy.mode is ipvs)" in message
    assert "overlay" not in message


async def test_clock_skew() -> None:
    script = Script().on("date +%s.%N", lambda command, stdin: f"{time.time() + 0.01:.6f}\n")
    _, ctx = await scripted_context(script)
    await ClockSkew(2.0).verify(ctx)
    offset = ctx.shared_data.get(CLOCK_OFFSET)
    assert abs(offset) < 1.0
    late = Script().on("date +%s.%N", lambda command, stdin: f"{time.time() - 30:.6f}\n")
    _, ctx = await scripted_context(late)
    with pytest.raises(CheckFailedError, match=r"clock is 30\.\ds behind this machine's"):
        await ClockSkew(2.0).verify(ctx)
