"""Step: the smallest unit of work, one idempotent change on one host, with a precheck."""

from __future__ import annotations

import abc
from collections.abc import Mapping

from kubexms.runner import Change
from kubexms.runtime import Context


class Step(abc.ABC):
    """One idempotent change on one host.

    The engine calls ``precheck`` first: True means the host is already in the desired state,
    so ``run`` is not called and the pair counts as done (unchanged). Otherwise ``run`` makes
    the change. Both reach the host only through ``ctx.host.runner`` (``ctx.runner``).

    Class attributes a step may set: ``name`` (unique within its task; becomes the last part
    of the node id), ``description`` (one line for plans), ``timeout`` (seconds for precheck
    plus run on one host; None: the engine's default), ``uploads`` (the step moves large files:
    it also takes one of the engine's upload slots), ``retries`` (None: the engine's default).
    """

    name: str = ""
    description: str = ""
    timeout: float | None = None
    uploads: bool = False
    retries: int | None = None

    @abc.abstractmethod
    async def precheck(self, ctx: Context) -> bool:
        """Whether the host is already in the desired state. Must not change the host."""

    @abc.abstractmethod
    async def run(self, ctx: Context) -> Change | None:
        """Bring the host to the desired state.

        Return the runner's Change (its ``changed`` and ``detail`` go into the events), or
        None when the change needs no account beyond "changed".
        """

    def params(self) -> Mapping[str, object]:
        """What this step will do, as JSON-able data for plans and the plan's hash.

        Never put secrets here: plans are printed and their hash is stored in checkpoints.
        """
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class ReversibleStep(Step):
    """A step that can undo a failed ``run`` on the host it failed on.

    Only steps that really implement ``rollback`` derive from this class, so the engine knows
    which failures it can clean up after (the Go original declared rollbacks everywhere and
    implemented none).
    """

    @abc.abstractmethod
    async def rollback(self, ctx: Context) -> None:
        """Undo what a failed ``run`` may have left behind on ``ctx.host``."""


class Check(Step):
    """A read-only step that verifies the host is fit (preflight): it never changes anything.

    ``verify`` raises (typically :class:`~kubexms.engine.CheckFailedError`) when the host does
    not pass; passing counts as "unchanged". Dry runs execute checks, since they only read.
    """

    @abc.abstractmethod
    async def verify(self, ctx: Context) -> None:
        """Raise if the host does not pass this check."""

    async def precheck(self, ctx: Context) -> bool:
        await self.verify(ctx)
        return True

    async def run(self, ctx: Context) -> Change | None:
        # Reached only if a subclass overrides precheck; the check is still the whole job.
        await self.verify(ctx)
        return Change(False, self.name or type(self).__name__)
