"""Hostname, /etc/hosts block, swap and timezone: prechecks read the host right, and runs go
through the Runner operation that makes the change."""

from __future__ import annotations

import pytest

from kubexms.hostprep import DisableSwap, HostsFileBlock, SetHostname, SetTimezone
from kubexms.hostprep._system_steps import hosts_entries
from tests.unit.hostprep.scripted import Script, scripted_context


@pytest.mark.parametrize(
    ("output", "done"),
    [
        ("node1\nnode1\n", True),
        ("localhost\nnode1\n", False),  # set in the file, not yet now
        ("node1\nold-name\n", False),  # set now, lost at reboot
        ("node1\n", False),  # no /etc/hostname
    ],
)
async def test_hostname_precheck(output: str, done: bool) -> None:
    script = Script().on("hostname; cat /etc/hostname", output)
    _, ctx = await scripted_context(script)
    assert await SetHostname().precheck(ctx) is done


async def test_hostname_run_uses_the_hosts_name() -> None:
    script = Script().on("n=node2", "@kxms:done hostname\n")
    _, ctx = await scripted_context(script, host=1)
    change = await SetHostname().run(ctx)
    assert change is not None
    assert change.changed
    assert script.ran("n=node2")


ENTRIES = hosts_entries(
    [("10.213.0.11", "node1"), ("10.213.0.12", "node2")], "lb.kubexms.local", "10.213.0.11"
)
BLOCK = "10.213.0.11 node1\n10.213.0.12 node2\n10.213.0.11 lb.kubexms.local\n"


def test_hosts_block_content() -> None:
    assert HostsFileBlock(ENTRIES).block == BLOCK
    assert hosts_entries([("10.0.0.1", "a")], "", "10.0.0.1") == [("10.0.0.1", "a")]


@pytest.mark.parametrize(
    ("hosts_file", "done"),
    [
        (f"127.0.0.1 localhost\n# BEGIN kubexms\n{BLOCK}# END kubexms\n::1 ip6\n", True),
        ("127.0.0.1 localhost\n", False),
        (f"# BEGIN kubexms\n{BLOCK.replace('node2', 'old')}# END kubexms\n", False),
        (f"# BEGIN kubexms\n{BLOCK}", False),  # unterminated block
        (f"# BEGIN kubexms\n{BLOCK}10.0.0.9 extra\n# END kubexms\n", False),
    ],
    ids=["in-place", "absent", "stale", "unterminated", "extra-line"],
)
async def test_hosts_block_precheck(hosts_file: str, done: bool) -> None:
    script = Script().on("cat /etc/hosts", hosts_file)
    _, ctx = await scripted_context(script)
    assert await HostsFileBlock(ENTRIES).precheck(ctx) is done


@pytest.mark.parametrize(
    ("output", "done"),
    [("active 0\nfstab 0\n", True), ("active 1\nfstab 0\n", False), ("active 0\nfstab 2\n", False)],
)
async def test_swap_precheck(output: str, done: bool) -> None:
    script = Script().on("/proc/swaps", output)
    _, ctx = await scripted_context(script)
    assert await DisableSwap().precheck(ctx) is done


async def test_timezone_precheck_and_run() -> None:
    script = Script()
    script.on("n=Europe/Berlin", "@kxms:done localtime\n")  # the Runner's change
    script.on("readlink /etc/localtime", (1, ""))  # the precheck: another zone
    _, ctx = await scripted_context(script)
    step = SetTimezone("Europe/Berlin")
    assert not await step.precheck(ctx)
    change = await step.run(ctx)
    assert change is not None
    assert change.changed
    assert "= /usr/share/zoneinfo/Europe/Berlin" in script.commands[-2]
    assert step.params() == {"timezone": "Europe/Berlin"}
