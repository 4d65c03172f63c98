"""What components need of their hosts, declared by their modules and gathered per pipeline.

A component's module declares ``HostNeeds`` (ports, OS packages, kernel modules, sysctls, CPUs
and memory, for the hosts of some roles); the pipeline gathers those of its modules into
``HostRequirements``, which preflight checks and OS preparation applies. Neither of them knows
any component: adding one adds its declaration, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kubexms.engine._errors import PlanError

PACKAGE_MANAGERS = ("apt", "dnf", "yum")


@dataclass(frozen=True)
class HostNeeds:
    """What ``component`` needs of the hosts having any of ``roles`` (empty: every host).

    ``ports``: TCP ports it will listen on (free before it is installed); ``packages``: OS
    packages by package manager (``apt``, ``dnf``, ``yum``); ``kernel_modules`` and
    ``sysctl``: kernel features it relies on; ``cpus`` and ``memory_mib``: the least a host
    must have for it. ``reason`` says why when a setting decides it ("kubeProxy.mode is ipvs").
    ``service``: the systemd unit that will hold ``ports``; while it is active they are the
    component's own (a rerun), not taken by something else. ``without_roles``: hosts having
    any of these are not concerned (an internal load balancer runs on the workers that are
    not masters).
    """

    component: str
    roles: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    packages: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    kernel_modules: tuple[str, ...] = ()
    sysctl: Mapping[str, str] = field(default_factory=dict)
    cpus: int = 0
    memory_mib: int = 0
    reason: str = ""
    service: str | None = None
    without_roles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.component:
            raise ValueError("HostNeeds needs the name of the component declaring it")
        for port in self.ports:
            if not isinstance(port, int) or not 1 <= port <= 65535:
                raise ValueError(f"{self.component}: TCP port {port!r} is outside 1..65535")
        unknown = sorted(set(self.packages) - set(PACKAGE_MANAGERS))
        if unknown:
            raise ValueError(
                f"{self.component}: packages for unknown package manager(s) {', '.join(unknown)}"
                f" (known: {', '.join(PACKAGE_MANAGERS)})"
            )
        if self.cpus < 0 or self.memory_mib < 0:
            raise ValueError(f"{self.component}: cpus and memory_mib must not be negative")

    def applies_to(self, roles: Iterable[str]) -> bool:
        """Whether a host with ``roles`` is concerned."""
        have = set(roles)
        if have & set(self.without_roles):
            return False
        return not self.roles or bool(set(self.roles) & have)

    def why(self) -> str:
        """``etcd`` or ``kube-proxy (kubeProxy.mode is ipvs)``: for messages."""
        return f"{self.component} ({self.reason})" if self.reason else self.component


@dataclass(frozen=True)
class HostRequirements:
    """The needs a pipeline's modules declared, asked per host by its roles."""

    declared: tuple[HostNeeds, ...] = ()

    def __post_init__(self) -> None:
        # Two components asking different values of one sysctl cannot both be satisfied on a
        # host that both concern.
        for index, first in enumerate(self.declared):
            for second in self.declared[index + 1 :]:
                if not _overlap(first, second):
                    continue
                for key, value in second.sysctl.items():
                    if key in first.sysctl and first.sysctl[key] != value:
                        raise PlanError(
                            f"sysctl {key}: {first.why()} needs {first.sysctl[key]!r} but "
                            f"{second.why()} needs {value!r}"
                        )

    def __bool__(self) -> bool:
        return bool(self.declared)

    def for_roles(self, roles: Iterable[str]) -> list[HostNeeds]:
        """The declarations concerning a host with ``roles``, in declaration order."""
        wanted = frozenset(roles)
        return [needs for needs in self.declared if needs.applies_to(wanted)]

    def ports(self, roles: Iterable[str]) -> dict[int, list[str]]:
        """TCP port -> the components (with their reasons) that will listen on it."""
        found: dict[int, list[str]] = {}
        for needs in self.for_roles(roles):
            for port in needs.ports:
                found.setdefault(port, []).append(needs.why())
        return dict(sorted(found.items()))

    def kernel_modules(self, roles: Iterable[str] | None = None) -> dict[str, list[str]]:
        """Kernel module -> why (components); ``roles`` None: for any host."""
        found: dict[str, list[str]] = {}
        for needs in self._chosen(roles):
            for name in needs.kernel_modules:
                reasons = found.setdefault(name, [])
                if needs.why() not in reasons:
                    reasons.append(needs.why())
        return found

    def sysctl(self, roles: Iterable[str] | None = None) -> dict[str, str]:
        """Kernel parameters, in declaration order; ``roles`` None: for any host."""
        found: dict[str, str] = {}
        for needs in self._chosen(roles):
            for key, value in needs.sysctl.items():
                found.setdefault(key, value)
        return found

    def packages(self, manager: str, roles: Iterable[str] | None = None) -> list[str]:
        """OS packages named for ``manager``, each once; ``roles`` None: for any host."""
        if manager not in PACKAGE_MANAGERS:
            raise ValueError(f"no package list for package manager {manager!r}")
        found: list[str] = []
        for needs in self._chosen(roles):
            for name in needs.packages.get(manager, ()):
                if name not in found:
                    found.append(name)
        return found

    def packages_by_manager(self, roles: Iterable[str] | None = None) -> dict[str, list[str]]:
        return {manager: self.packages(manager, roles) for manager in PACKAGE_MANAGERS}

    def minimums(self, roles: Iterable[str]) -> tuple[int, int]:
        """(CPUs, MiB of memory) a host with ``roles`` needs: the most any declaration asks."""
        concerned = self.for_roles(roles)
        return (
            max((needs.cpus for needs in concerned), default=0),
            max((needs.memory_mib for needs in concerned), default=0),
        )

    def _chosen(self, roles: Iterable[str] | None) -> list[HostNeeds]:
        return list(self.declared) if roles is None else self.for_roles(roles)


def _overlap(first: HostNeeds, second: HostNeeds) -> bool:
    # Conservative: exclusions are ignored, so two declarations that might meet on a host
    # are taken to meet.
    return not first.roles or not second.roles or bool(set(first.roles) & set(second.roles))
