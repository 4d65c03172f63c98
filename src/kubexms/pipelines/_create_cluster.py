"""``create cluster``: the phases of a cluster, in order, each a module of its component.

Phases run in the order of ``PHASES``. ``--only`` runs the named phases and the phases they
depend on, like make targets (every step has a precheck, so a phase already done costs
seconds); a dependency pulled in only for a component phase is limited to what that phase
needs (``--only etcd`` checks and prepares only the etcd hosts and fetches only etcd's
artifacts). ``--skip`` leaves phases out when the user vouches for them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from kubexms._errors import KubexmsError
from kubexms.addons import AddonsModule
from kubexms.cni import CniModule
from kubexms.config import Cluster
from kubexms.containerd import ContainerRuntimeModule
from kubexms.engine import Module, Pipeline, PlanContext, Roles, known_role
from kubexms.etcd import EtcdModule, etcd_warnings
from kubexms.hostprep import OSPrepModule, OSPrepOptions
from kubexms.kubernetes import ControlPlaneModule, WorkersModule
from kubexms.kubernetes.binary import BinaryControlPlaneModule, BinaryWorkersModule
from kubexms.loadbalancer import PROXY_UNIT, LoadBalancerModule
from kubexms.pki import PkiModule
from kubexms.preflight import PreflightModule
from kubexms.registry import RegistryModule
from kubexms.steps import ArtifactsModule, ComponentModule

PHASES: tuple[str, ...] = (
    "preflight",
    "os",
    "artifacts",
    "pki",
    "etcd",
    "container-runtime",
    "registry",
    "loadbalancer",
    "control-plane",
    "workers",
    "cni",
    "addons",
)
"""Every phase of ``create cluster``, in the order they run."""

DEPENDS_ON: Mapping[str, tuple[str, ...]] = {
    "preflight": (),
    "os": ("preflight",),
    "artifacts": ("preflight",),
    "pki": (),
    "etcd": ("preflight", "os", "artifacts", "pki"),
    "container-runtime": ("preflight", "os", "artifacts"),
    "registry": ("preflight", "os", "artifacts", "pki"),
    "loadbalancer": ("preflight", "os", "artifacts"),
    "control-plane": ("etcd", "container-runtime", "loadbalancer", "pki"),
    "workers": ("control-plane",),
    "cni": ("workers",),
    "addons": ("cni",),
}
"""What each phase needs done before it (the transitive closure is taken)."""

FOUNDATION = ("preflight", "os", "artifacts", "pki")
"""Phases that serve the component phases; limited to their needs when only pulled in."""


COMPONENT_PHASES: Mapping[str, type[ComponentModule]] = {
    "etcd": EtcdModule,
    "container-runtime": ContainerRuntimeModule,
    "registry": RegistryModule,
    "loadbalancer": LoadBalancerModule,
    "control-plane": ControlPlaneModule,
    "workers": WorkersModule,
    "cni": CniModule,
    "addons": AddonsModule,
}
"""The component phases that exist today."""
BINARY_MODE_PHASES: Mapping[str, type[ComponentModule]] = {
    "control-plane": BinaryControlPlaneModule,
    "workers": BinaryWorkersModule,
}
"""The phases ``kubernetes.type: kubexm`` (binary mode) installs with modules of its own."""
AVAILABLE = (*FOUNDATION, *COMPONENT_PHASES)
PORT_OWNERS: Mapping[int, str] = {
    2379: "etcd.service",
    2380: "etcd.service",
    2381: "etcd.service",
    6443: PROXY_UNIT,  # on a loadbalancer host; on a master the kubelet's (its HostNeeds)
    10250: "kubelet.service",
    10257: "kubelet.service",  # controller-manager and scheduler: kubelet static pods
    10259: "kubelet.service",
}
"""Ports a component holds once installed: preflight on a rerun must not call them taken."""


class PhaseSelectionError(KubexmsError):
    """``--only`` / ``--skip`` name unknown phases, or the whole pipeline cannot run yet."""


def _split(values: Collection[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _closure(named: Sequence[str]) -> set[str]:
    selected: set[str] = set()
    pending = list(named)
    while pending:
        phase = pending.pop()
        if phase not in selected:
            selected.add(phase)
            pending.extend(DEPENDS_ON[phase])
    return selected


@dataclass(frozen=True, slots=True)
class PhaseSelection:
    """Which phases run, in order, and which of them run in full (the others are limited to
    what the ``components`` need)."""

    phases: tuple[str, ...]
    full: frozenset[str]
    components: tuple[str, ...]

    @classmethod
    def choose(cls, only: Collection[str] = (), skip: Collection[str] = ()) -> PhaseSelection:
        """Resolve ``--only`` and ``--skip`` (comma-separated values allowed)."""
        named, skipped = _split(only), _split(skip)
        unknown = [phase for phase in [*named, *skipped] if phase not in PHASES]
        if unknown:
            raise PhaseSelectionError(
                f"unknown phase(s) {', '.join(unknown)}; the phases are {', '.join(PHASES)}"
            )
        if named:
            missing = [phase for phase in named if phase not in AVAILABLE]
            if missing:
                raise PhaseSelectionError(
                    f"phase(s) {', '.join(missing)} do not exist yet; available: "
                    f"{', '.join(AVAILABLE)}"
                )
            wanted = _closure(named) - set(skipped)
            full = frozenset(phase for phase in named if phase in wanted)
        else:
            missing = [phase for phase in PHASES if phase not in AVAILABLE and phase not in skipped]
            if missing:
                raise PhaseSelectionError(
                    "create cluster cannot run whole yet: the phase(s) "
                    f"{', '.join(missing)} do not exist yet. Run the phases that do with "
                    f"--only (e.g. --only etcd), or --skip the missing ones if they are done"
                )
            wanted = set(PHASES) - set(skipped)
            full = frozenset(wanted)
        if not wanted:
            raise PhaseSelectionError("--skip leaves no phase to run")
        phases = tuple(phase for phase in PHASES if phase in wanted)
        components = tuple(phase for phase in phases if phase in COMPONENT_PHASES)
        return cls(phases, full, components)


def _phase_module(phase: str, cluster: Cluster) -> ComponentModule:
    """The module of a component phase; the Kubernetes phases by ``kubernetes.type``."""
    if cluster.spec.kubernetes.type == "kubexm" and phase in BINARY_MODE_PHASES:
        return BINARY_MODE_PHASES[phase]()
    return COMPONENT_PHASES[phase]()


class CreateClusterPipeline(Pipeline):
    """The phases of a cluster (see the module docstring)."""

    name = "create-cluster"

    def __init__(
        self, selection: PhaseSelection | None = None, options: OSPrepOptions | None = None
    ) -> None:
        super().__init__()
        self.selection = selection or PhaseSelection.choose()
        self.options = options or OSPrepOptions()

    def warnings(self, cluster: Cluster) -> list[str]:
        """What the user should hear before the run (e.g. an older etcd than supported)."""
        return etcd_warnings(cluster) if "etcd" in self.selection.phases else []

    def modules(self, ctx: PlanContext) -> Sequence[Module]:
        cluster = ctx.config
        selection = self.selection
        components = [_phase_module(name, cluster) for name in selection.components]
        roles = frozenset(role for c in components for role in c.host_roles(cluster))
        hosts = None if not roles else Roles(*(known_role(role) for role in sorted(roles)))
        artifacts = frozenset(a for c in components for a in c.artifact_components(cluster))
        certificates = frozenset(n for c in components for n in c.pki_names(cluster))
        built: dict[str, Module] = {}
        for phase in selection.phases:
            full = phase in selection.full
            if phase == "preflight":
                built[phase] = PreflightModule(None if full else hosts, PORT_OWNERS)
            elif phase == "os":
                built[phase] = OSPrepModule(self.options, None if full else hosts)
            elif phase == "artifacts":
                built[phase] = ArtifactsModule(None if full else artifacts)
            elif phase == "pki":
                built[phase] = PkiModule(None if full else certificates)
        for component in components:
            built[component.name] = component
        return [built[phase] for phase in selection.phases]
