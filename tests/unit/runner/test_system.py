"""runner.system: validation, script shape and result parsing; the sysctl and module
functions themselves run against files under tmp_path. Kernel and hostname changes are
never made on this machine (see tests/integration/test_runner_system.py for real hosts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubexms.runner import (
    KernelModuleMissingError,
    Runner,
    SysctlChange,
    SysctlError,
)
from kubexms.runner._script import quote
from kubexms.runner._system import _SYSCTL_FUNCTION, check_hostname, sysctl_path
from tests.unit.runner.fakes import ScriptedConnector, ShellConnector


def test_sysctl_path_swaps_dots_and_slashes() -> None:
    assert sysctl_path("net.ipv4.ip_forward") == "/proc/sys/net/ipv4/ip_forward"
    assert (
        sysctl_path("net.ipv4.conf.eth0/1.rp_filter") == "/proc/sys/net/ipv4/conf/eth0.1/rp_filter"
    )


async def test_sysctl_function_applies_and_compares(tmp_path: Path) -> None:
    entry = tmp_path / "somaxconn"
    entry.write_text("4096\t  8\n")
    shell = ShellConnector()
    script = _SYSCTL_FUNCTION + (
        f"kx_sysctl k {quote(str(entry))} '4096 8'\n"
        f"kx_sysctl k2 {quote(str(tmp_path / 'missing'))} 1\n"
        f"kx_sysctl k3 {quote(str(entry))} '9'\n"
    )
    result = await shell.run(script)
    assert result.stdout.splitlines() == ["@kxms:unknown k2", "@kxms:applied k3"]
    assert entry.read_text() == "9\n"


async def test_sysctl_result_lists_deferred_keys() -> None:
    out = "@kxms:wrote 0\n@kxms:applied net.ipv4.ip_forward\n@kxms:deferred vm.swappiness\n"
    fake = ScriptedConnector(lambda call: out)
    change = await Runner(fake).system.sysctl({"net.ipv4.ip_forward": 1, "vm.swappiness": 0})
    assert isinstance(change, SysctlChange)
    assert change.changed
    assert change.deferred == ("vm.swappiness",)
    assert "vm.swappiness = 0" in fake.calls[0].stdin.decode()


async def test_sysctl_unknown_key_raises_before_writing() -> None:
    fake = ScriptedConnector(lambda call: "@kxms:unknown net.nope\n")
    with pytest.raises(SysctlError, match=r"net\.nope: no such kernel parameter"):
        await Runner(fake).system.sysctl({"net.nope": 1})
    command = fake.calls[0].command
    assert command.index("@kxms:unknown") < command.index("tar -x")


@pytest.mark.parametrize("values", [{"a b": 1}, {"k": "1\n2"}, {"k": ""}, {"$(x)": 1}])
async def test_sysctl_bad_input(values: dict[str, str | int]) -> None:
    with pytest.raises(ValueError, match="sysctl"):
        await Runner(ScriptedConnector()).system.sysctl(values)


async def test_missing_kernel_module_is_named() -> None:
    fake = ScriptedConnector(lambda call: "@kxms:missing ip_vs\n")
    with pytest.raises(KernelModuleMissingError, match="ip_vs") as caught:
        await Runner(fake).system.kernel_modules(["br_netfilter", "ip_vs"])
    assert caught.value.modules == ["ip_vs"]
    assert "/proc/sys/net/bridge/bridge-nf-call-iptables" in fake.calls[0].command


async def test_kernel_modules_built_in_unchanged() -> None:
    fake = ScriptedConnector(lambda call: "@kxms:same 0\n")
    assert not (await Runner(fake).system.kernel_modules(["overlay"])).changed


def test_hostnames() -> None:
    assert check_hostname("node-1.example") == "node-1.example"
    for bad in ("Node", "-a", "a_b", "a..b", "x" * 64, "a;b"):
        with pytest.raises(ValueError, match="hostname"):
            check_hostname(bad)


async def test_timezone_name_validated() -> None:
    with pytest.raises(ValueError, match="timezone"):
        await Runner(ScriptedConnector()).system.timezone("../../etc/passwd")


async def test_swap_off_parses_what_was_done() -> None:
    fake = ScriptedConnector(lambda call: "@kxms:done  fstab\n")
    change = await Runner(fake).system.swap_off()
    assert change.changed
    assert change.detail == "fstab"
