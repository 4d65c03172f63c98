"""tests/leasing.py: which fleet hosts a lease gets (no fleet needed: only the host list)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from kubexms.sandbox import FleetHost
from tests.leasing import PACKAGES_INSTALLED, HostPool


@dataclass
class HostList:
    """What HostPool reads of a Fleet: its hosts."""

    hosts: list[FleetHost] = field(
        default_factory=lambda: [
            FleetHost(f"node{i:02}", f"10.0.0.{i}", i, "systemd") for i in range(1, 7)
        ]
    )


def pool() -> HostPool:
    return HostPool(HostList())  # type: ignore[arg-type]


def test_least_used_hosts_come_first() -> None:
    hosts = pool()
    with hosts.lease(2, holder="a") as first:
        assert first.names == ["node01", "node02"]
    with hosts.lease(3, holder="b") as second:
        assert second.names == ["node03", "node04", "node05"]


def test_a_preferring_lease_gets_the_hosts_an_earlier_one_prepared() -> None:
    hosts = pool()
    with hosts.lease(2, holder="a"):
        pass
    with hosts.lease(3, holder="b", prefer=PACKAGES_INSTALLED) as prepared:
        assert prepared.names == ["node03", "node04", "node05"]  # least used: none prepared
    with hosts.lease(2, holder="c") as plain:  # no preference: least used, as before
        assert plain.names == ["node01", "node06"]
    with hosts.lease(4, holder="d", prefer=PACKAGES_INSTALLED) as again:
        # The three prepared hosts, then the least used of the rest.
        assert again.names == ["node02", "node03", "node04", "node05"]
    with hosts.lease(4, holder="e", prefer=PACKAGES_INSTALLED) as more:
        assert more.names == ["node02", "node03", "node04", "node05"]


def test_a_held_prepared_host_is_not_given_twice() -> None:
    hosts = pool()
    with hosts.lease(2, holder="a", prefer=PACKAGES_INSTALLED):
        pass
    with hosts.lease(1, holder="b", prefer=PACKAGES_INSTALLED) as held:
        assert held.names == ["node01"]
        with hosts.lease(2, holder="c", prefer=PACKAGES_INSTALLED) as other:
            assert other.names == ["node02", "node03"]


def test_a_fleet_too_small_skips_saying_how_many() -> None:
    with pytest.raises(pytest.skip.Exception, match="needs 7 fleet hosts; the fleet has 6"):
        pool().acquire(7, init=None, holder="a", prefer=PACKAGES_INSTALLED)


def test_a_preparing_lease_gets_fresh_hosts_and_hands_them_on() -> None:
    hosts = pool()
    with hosts.lease(2, holder="a", prefer=PACKAGES_INSTALLED):
        pass
    with hosts.lease(2, holder="b", prepares=PACKAGES_INSTALLED) as fresh:
        assert fresh.names == ["node03", "node04"]  # least used, prepared or not
    with hosts.lease(4, holder="c", prefer=PACKAGES_INSTALLED) as prepared:
        assert prepared.names == ["node01", "node02", "node03", "node04"]
