"""Kernel modules and sysctl: the read-only probes run for real on this machine's kernel
(overlay and br_netfilter built in, no ip_vs, no loadable modules at all), the steps'
decisions and rollback against scripted hosts."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kubexms.hostprep import (
    KUBERNETES_SYSCTL,
    ApplySysctl,
    LoadKernelModules,
    kernel_modules,
)
from kubexms.hostprep._kernel_steps import read_sysctl, sysctl_file
from kubexms.runner import (
    MODULES_FILE,
    SYSCTL_FILE,
    SysctlError,
    absent_modules,
    absent_modules_script,
    sysctl_path,
)
from kubexms.runtime import ClusterRuntime, Context, new_runtime
from kubexms.testing import cluster_of
from tests.unit.engine.test_timeouts import local_cluster
from tests.unit.hostprep.scripted import Script, scripted_context


@pytest.fixture
async def here(tmp_path: Path) -> AsyncIterator[Context]:
    runtime: ClusterRuntime = await new_runtime(local_cluster(tmp_path))
    async with runtime:
        yield runtime.new_context(runtime.hosts[0])


async def test_module_probe_on_this_kernel(here: Context) -> None:
    names = ["overlay", "br_netfilter", "ip_vs", "no_such_module"]
    result = await here.runner.run(absent_modules_script(names))
    # Built in here (no /lib/modules, no modprobe): present all the same.
    assert absent_modules(result.stdout) == ["ip_vs", "no_such_module"]
    loadable = await here.runner.run(absent_modules_script(names, or_loadable=True))
    assert absent_modules(loadable.stdout) == ["ip_vs", "no_such_module"]


def test_ipvs_modules_only_in_ipvs_mode() -> None:
    iptables = [module.name for module in kernel_modules(cluster_of(1))]
    assert iptables == ["overlay", "br_netfilter"]
    ipvs_config = cluster_of(1, extra_spec={"kubernetes": {"kubeProxy": {"mode": "ipvs"}}})
    ipvs = kernel_modules(ipvs_config)
    assert [module.name for module in ipvs][2:] == [
        "ip_vs",
        "ip_vs_rr",
        "ip_vs_wrr",
        "ip_vs_sh",
        "nf_conntrack",
    ]
    assert "kubeProxy.mode is ipvs" in ipvs[2].reason


@pytest.mark.parametrize(
    ("probe", "listed", "done"),
    [
        ("", "overlay\nbr_netfilter\n", True),
        ("absent br_netfilter\n", "overlay\nbr_netfilter\n", False),
        ("", "overlay\n", False),
    ],
    ids=["done", "not-loaded", "not-at-boot"],
)
async def test_modules_precheck(probe: str, listed: str, done: bool) -> None:
    script = Script().on(MODULES_FILE, f"{probe}---\n{listed}")
    _, ctx = await scripted_context(script)
    assert await LoadKernelModules(["overlay", "br_netfilter"]).precheck(ctx) is done


async def test_sysctl_probe_on_this_machine(here: Context) -> None:
    found = await read_sysctl(here, ["net.ipv4.ip_forward", "kernel.panic", "no.such.key"])
    assert found["no.such.key"] == ("missing", None)
    state, value = found["net.ipv4.ip_forward"]
    assert state in ("rw", "ro")
    assert (
        value
        == (await asyncio.to_thread(Path(sysctl_path("net.ipv4.ip_forward")).read_text)).strip()
    )
    assert found["kernel.panic"][1] is not None


def probe_line(key: str, state: str, value: str) -> str:
    return f"{key} {state} {base64.b64encode(value.encode()).decode() if value else '-'}\n"


VALUES = {"net.ipv4.ip_forward": "1", "kernel.panic": "10"}


@pytest.mark.parametrize(
    ("probe", "file", "done"),
    [
        # kernel.panic is read-only here: persisted in the file, that is all that can be done.
        (
            [("net.ipv4.ip_forward", "rw", "1"), ("kernel.panic", "ro", "0")],
            sysctl_file(VALUES),
            True,
        ),
        (
            [("net.ipv4.ip_forward", "rw", "0"), ("kernel.panic", "ro", "0")],
            sysctl_file(VALUES),
            False,
        ),
        (
            [("net.ipv4.ip_forward", "rw", "1"), ("kernel.panic", "rw", "0")],
            sysctl_file(VALUES),
            False,
        ),
        ([("net.ipv4.ip_forward", "rw", "1"), ("kernel.panic", "ro", "0")], "", False),
        (
            [("net.ipv4.ip_forward", "missing", ""), ("kernel.panic", "ro", "0")],
            sysctl_file(VALUES),
            False,
        ),
    ],
    ids=["done", "live-differs", "writable-differs", "no-file", "unknown-key"],
)
async def test_sysctl_precheck(probe: list[tuple[str, str, str]], file: str, done: bool) -> None:
    script = Script()
    script.on("kx_read", "".join(probe_line(*entry) for entry in probe))
    script.on(f"cat {SYSCTL_FILE}", file if file else (1, ""))
    _, ctx = await scripted_context(script)
    assert await ApplySysctl(VALUES).precheck(ctx) is done


async def test_sysctl_rollback_restores_file_and_live_values() -> None:
    script = Script()
    script.on(
        "kx_read",
        probe_line("net.ipv4.ip_forward", "rw", "0") + probe_line("kernel.panic", "ro", "0"),
    )
    script.on(f"cat {SYSCTL_FILE}", "# old settings\n")
    script.on("kx_sysctl", "@kxms:refused net.ipv4.ip_forward\n")  # the kernel says no
    script.on("kx_sync", "@kxms:wrote 0\n")
    script.on("/proc/sys/net/ipv4/ip_forward", "")
    _, ctx = await scripted_context(script)
    step = ApplySysctl(VALUES)
    with pytest.raises(SysctlError, match="refused"):
        await step.run(ctx)
    await step.rollback(ctx)
    restore_file = script.ran("kx_sync")[-1]
    assert SYSCTL_FILE in restore_file
    # Only the writable key goes back; the read-only one was never changed.
    (restore_live,) = [c for c in script.commands if c.startswith("printf")]
    assert restore_live == "printf '%s\\n' 0 > /proc/sys/net/ipv4/ip_forward || true"


async def test_rollback_without_a_run_does_nothing() -> None:
    script = Script()
    _, ctx = await scripted_context(script)
    await ApplySysctl(KUBERNETES_SYSCTL).rollback(ctx)
    assert script.commands == []
