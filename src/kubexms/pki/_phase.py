"""The ``pki`` phase: GeneratePki, on the control machine."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from kubexms.engine import ControlMachine, Module, PlanContext, Step, Task
from kubexms.pki._generate import Action, generate_pki
from kubexms.runner import Change
from kubexms.runtime import Context


@dataclass(frozen=True)
class GeneratePki(Step):
    """The cluster's PKI in ``<workDir>/pki`` brought in line with the cluster file: each item
    created when missing, kept while it fits, regenerated (with the reason) when it does not.

    Which items a run would change is known only by examining them all, so the precheck says
    "maybe" and the run reports exactly what it created or regenerated (a rerun: nothing).
    Private keys never leave this machine here; components place what their hosts need.
    ``only``: just these items and the CAs that issue them (None: the whole PKI).
    """

    only: tuple[str, ...] | None = None
    name: str = "generate"

    description = "the cluster PKI on this machine (CAs, certificates, kubeconfigs)"

    async def precheck(self, ctx: Context) -> Change:
        return Change(True, "generate the cluster PKI", "examine every item; make what is due")

    async def run(self, ctx: Context) -> Change:
        report = await asyncio.to_thread(generate_pki, ctx.cluster.config, only=self.only)
        made = [entry.name for entry in report.entries if entry.action is not Action.kept]
        detail = f"{len(made)} made: {', '.join(made[:8])}{' ...' if len(made) > 8 else ''}"
        return Change(bool(made), "generate the cluster PKI", detail if made else "")


class PkiModule(Module):
    """The ``pki`` phase: the PKI made on this machine (hosts get their files from the phases
    that install what uses them). ``names`` limits it to those items (None: all of it)."""

    name = "pki"

    def __init__(self, names: Collection[str] | None = None) -> None:
        super().__init__()
        self.names = None if names is None else tuple(sorted(names))

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
        if self.names == ():
            return []  # nothing of the PKI is needed (e.g. only external etcd)
        return [Task("generate", [GeneratePki(self.names)], ControlMachine())]
