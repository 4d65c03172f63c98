"""The OS steps against a real shell: this machine through the local connector, on files in a
scratch directory. Their prechecks are the Runner operations in check mode, so running them
here only reads the machine; real runs touch only the scratch files (the machine-wide
settings, hostname, swap and timezone, are changed on fleet hosts by the init-os e2e test).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kubexms.hostprep import (
    ApplySysctl,
    DisableSwap,
    HostsFileBlock,
    LoadKernelModules,
    SetHostname,
    SetTimezone,
    kernel_modules,
)
from kubexms.hostprep._os_steps import hosts_entries
from kubexms.runner import Change, KernelModuleMissingError
from kubexms.runtime import ClusterRuntime, Context, new_runtime
from kubexms.testing import cluster_of
from tests.unit.engine.test_timeouts import local_cluster

ENTRIES = [("10.0.0.1", "node1"), ("10.0.0.22", "node2"), ("10.0.0.100", "lb.example")]
BLOCK = "10.0.0.1   node1\n10.0.0.22  node2\n10.0.0.100 lb.example\n"


@pytest.fixture
async def here(tmp_path: Path) -> AsyncIterator[Context]:
    runtime: ClusterRuntime = await new_runtime(local_cluster(tmp_path / "work"))
    async with runtime:
        yield runtime.new_context(runtime.hosts[0])


async def converges(step: ApplySysctl | LoadKernelModules | HostsFileBlock, ctx: Context) -> Change:
    """Precheck says it would change; the run does what the precheck said; then done."""
    predicted = await step.precheck(ctx)
    assert predicted.changed
    done = await step.run(ctx)
    assert (done.changed, done.detail) == (predicted.changed, predicted.detail)
    assert not (await step.precheck(ctx)).changed
    return done


def test_hosts_block_content() -> None:
    assert HostsFileBlock(ENTRIES).block == BLOCK
    assert hosts_entries([("10.0.0.1", "a")], "", "10.0.0.1") == [("10.0.0.1", "a")]
    assert HostsFileBlock(ENTRIES).params() == {
        "entries": [list(entry) for entry in ENTRIES],
        "file": "/etc/hosts",
    }


async def test_hosts_block_keeps_the_rest_of_the_file(here: Context, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n::1 ip6\n")
    step = HostsFileBlock(ENTRIES, file=str(hosts))
    change = await converges(step, here)
    assert change.detail == "+5 -0 lines"
    assert hosts.read_text() == (
        f"127.0.0.1 localhost\n::1 ip6\n# BEGIN kubexms\n{BLOCK}# END kubexms\n"
    )
    # A stale block is replaced in place; the lines around it stay.
    hosts.write_text(hosts.read_text().replace("node2", "old") + "10.9.9.9 after\n")
    stale = await converges(step, here)
    assert stale.detail == "+1 -1 lines"
    assert hosts.read_text().endswith(f"{BLOCK}# END kubexms\n10.9.9.9 after\n")


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


async def test_kernel_modules_on_this_kernel(here: Context, tmp_path: Path) -> None:
    # overlay and br_netfilter are built in here: present without loading anything.
    listed = tmp_path / "modules.conf"
    step = LoadKernelModules(["overlay", "br_netfilter"], file=str(listed))
    assert step.describe() == "kernel modules overlay, br_netfilter now and at boot"
    change = await converges(step, here)
    assert change.detail == f"{listed}: new file"
    assert listed.read_text() == "overlay\nbr_netfilter\n"
    missing = LoadKernelModules(["overlay", "kxms_no_such_module"], file=str(listed))
    with pytest.raises(KernelModuleMissingError, match="kxms_no_such_module"):
        await missing.precheck(here)
    assert listed.read_text() == "overlay\nbr_netfilter\n"


async def test_sysctl_file_and_rollback(here: Context, tmp_path: Path) -> None:
    # The machine's own values: the run writes the scratch file and sets nothing live.
    live = await here.runner.system.sysctl_values(["net.ipv4.ip_forward", "vm.swappiness"])
    values = {key: value for key, value in live.items() if value is not None}
    file = tmp_path / "sysctl.conf"
    step = ApplySysctl(values, file=str(file))
    assert step.describe() == "2 kernel parameters now and at boot"
    change = await converges(step, here)
    assert change.detail == f"{file}: new file"
    assert file.read_text() == "# Managed by kubexms.\n" + "".join(
        f"{key} = {value}\n" for key, value in values.items()
    )
    await step.rollback(here)  # nothing was there before the run: the file goes
    assert not file.exists()


async def test_rollback_without_a_run_does_nothing(here: Context, tmp_path: Path) -> None:
    file = tmp_path / "sysctl.conf"
    file.write_text("kept\n")
    await ApplySysctl({"vm.swappiness": "1"}, file=str(file)).rollback(here)
    assert file.read_text() == "kept\n"


async def test_machine_wide_prechecks_only_read(here: Context) -> None:
    before = await here.runner.run("hostname; readlink /etc/localtime; cat /proc/swaps")
    hostname = await SetHostname().precheck(here)
    assert hostname.changed  # this machine is not called "here"
    assert hostname.detail.startswith("hostname ")
    assert hostname.detail.endswith("-> here; /etc/hostname")
    await DisableSwap().precheck(here)
    zone = await SetTimezone("Antarctica/Troll").precheck(here)
    assert zone.changed
    after = await here.runner.run("hostname; readlink /etc/localtime; cat /proc/swaps")
    assert after.stdout == before.stdout
