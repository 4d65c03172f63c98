"""OS steps on a fleet host, as a sudo user: what the local-shell unit tests cannot do to this
machine (a kernel parameter the kernel refuses, and the rollback that follows)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubexms.config import load_config
from kubexms.hostprep import ApplySysctl, HostsFileBlock
from kubexms.runner import SysctlError
from kubexms.runtime import new_runtime
from tests.integration.test_runner_support import unique
from tests.leasing import LeaseHosts

pytestmark = pytest.mark.fleet


async def test_sysctl_refused_by_the_kernel_is_rolled_back(
    lease: LeaseHosts, tmp_path: Path
) -> None:
    hosts = lease(1)
    host = hosts.names[0]
    file, hosts_file = f"/etc/sysctl.d/90-{unique()}.conf", f"/etc/{unique()}-hosts"
    before = (await hosts.run(host, "sysctl -n net.ipv4.ip_forward")).strip()
    flipped = "0" if before == "1" else "1"
    await hosts.run(host, f"printf 'old = 1\\n' > {file}")
    # ip_forward is applied first, then the kernel refuses a word for a number.
    values = {"net.ipv4.ip_forward": flipped, "net.ipv4.tcp_syncookies": "many"}
    step = ApplySysctl(values, file=file)
    cluster = load_config(hosts.cluster_file(tmp_path, user="deployer"))
    try:
        async with await new_runtime(cluster) as runtime:
            ctx = runtime.new_context(runtime.hosts[0])
            predicted = await step.precheck(ctx)
            assert predicted.changed
            assert "applied net.ipv4.ip_forward net.ipv4.tcp_syncookies" in predicted.detail
            with pytest.raises(SysctlError, match="tcp_syncookies: the kernel refused 'many'"):
                await step.run(ctx)
            assert (await hosts.run(host, "sysctl -n net.ipv4.ip_forward")).strip() == flipped
            await step.rollback(ctx)
            assert (await hosts.run(host, "sysctl -n net.ipv4.ip_forward")).strip() == before
            assert await hosts.run(host, f"cat {file}") == "old = 1\n"

            block = HostsFileBlock([("10.0.0.1", "node-x")], file=hosts_file)
            assert (await block.precheck(ctx)).detail == "new file"
            assert (await block.run(ctx)).detail == "new file"
            assert not (await block.precheck(ctx)).changed
    finally:
        await hosts.run(host, f"rm -f {file} {hosts_file}; sysctl -qw net.ipv4.ip_forward={before}")
