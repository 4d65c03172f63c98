"""Faults around the container-runtime phase (fleet tier, real containerd under systemd).

- containerd cannot start on one host (a foreign drop-in replaces its ExecStart): the phase
  fails there alone, with the unit's journal in the error; the other host is done. With the
  fault gone, a rerun finishes that host and touches nothing on the other.
- containerd stopped on one host and config.toml edited by hand on the other, then one rerun:
  it starts containerd again on the first, rewrites the file and restarts containerd once on
  the second, and changes nothing else on either.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubexms.engine import EventKind
from tests.fixtures.artifacts.runtime_release import RuntimeReleases
from tests.integration.test_containerd_fleet import (
    CLEANUP,
    _changed,
    _cluster,
    _run,
    _store_artifacts,
)
from tests.integration.test_containerd_fleet import releases as releases
from tests.leasing import LeaseHosts

pytestmark = pytest.mark.fleet

DROP_IN = "/etc/systemd/system/containerd.service.d/zz-fault.conf"


async def test_container_runtime_faults_fail_one_host_and_reruns_heal(
    lease: LeaseHosts,
    tmp_path: Path,
    releases: RuntimeReleases,
) -> None:
    hosts = lease(2, init="systemd")
    good, bad = hosts[0], hosts[1]
    try:
        await hosts.run(
            bad,
            f"mkdir -p {DROP_IN.rsplit('/', 1)[0]} && printf '[Service]\\nExecStart=\\n"
            f'ExecStart=/bin/sh -c "echo kubexms-fault-injected >&2; exit 7"\\n\' > {DROP_IN}',
        )
        cluster = _cluster(hosts, tmp_path, releases, {})
        await _store_artifacts(cluster)
        failed, _ = await _run(cluster)
        assert not failed.succeeded
        assert {f.host for f in failed.failures} == {bad.name}
        (failure,) = failed.failures
        assert failure.node.endswith("/service/service")
        assert "containerd.service is not healthy" in failure.error
        assert "kubexms-fault-injected" in failure.error  # the journal's last lines
        assert (await hosts.run(good, "systemctl is-active containerd")).strip() == "active"

        await hosts.run(bad, f"rm -f {DROP_IN} && systemctl daemon-reload")
        healed, events = await _run(cluster)
        assert healed.succeeded, healed.failures
        assert {host for _, host in _changed(events)} == {bad.name}

        # Two faults at once, one on each host (one rerun for both): each host's change is its
        # own fault's repair, and nothing else changes on either.
        await hosts.run(good, "systemctl stop containerd")
        pid = await hosts.run(bad, "systemctl show -p MainPID --value containerd")
        await hosts.run(bad, "echo '# edited by hand' >> /etc/containerd/config.toml")
        repaired, events = await _run(cluster)
        assert repaired.succeeded, repaired.failures
        changes = {
            (e.host, e.node.rsplit("/", 2)[-2] if e.node else ""): e.detail
            for e in events
            if e.kind == EventKind.CHANGED
        }
        assert sorted(changes) == sorted([(good.name, "service"), (bad.name, "service")]), changes
        assert len([e for e in events if e.kind == EventKind.CHANGED]) == 2, changes
        assert "started" in changes[(good.name, "service")]
        assert (await hosts.run(good, "systemctl is-active containerd")).strip() == "active"
        assert "restarted" in changes[(bad.name, "service")]
        assert await hosts.run(bad, "systemctl show -p MainPID --value containerd") != pid
        assert "edited by hand" not in await hosts.run(bad, "cat /etc/containerd/config.toml")
    finally:
        await hosts.exec(bad, f"rm -f {DROP_IN}")
        for host in hosts:
            await hosts.exec(host, CLEANUP)
