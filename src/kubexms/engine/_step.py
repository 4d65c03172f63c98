"""Step: the smallest unit of work, one idempotent change on one host, with a precheck.

A Step is declared as a frozen dataclass: its fields are its parameters, declared once.
``params()`` (plans, checkpoint hashes) and ``describe()`` (the plan's one line) are derived
from them, so no parameter is repeated in an ``__init__``, a description and a params dict.
"""

from __future__ import annotations

import abc
import dataclasses
import enum
import inspect
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from kubexms.runner import Change
from kubexms.runtime import Context

_HIDDEN_FROM_PLANS = "kubexms.secret-field"


def secret_field(**options: Any) -> Any:
    """A Step field that holds a secret: never in ``params()``, ``describe()`` or ``repr``.

    Takes the options of :func:`dataclasses.field` (``default``, ``default_factory``...).
    """
    metadata = {**options.pop("metadata", {}), _HIDDEN_FROM_PLANS: True}
    return dataclasses.field(repr=False, metadata=metadata, **options)


def is_secret(declared: dataclasses.Field[Any]) -> bool:
    return bool(declared.metadata.get(_HIDDEN_FROM_PLANS, False))


def _public_fields(value: object) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(value) if not is_secret(f)]  # type: ignore[arg-type]


def as_param(value: object, where: str) -> object:
    """``value`` as JSON-able data: tuples and sets become lists, paths strings, nested
    dataclasses dicts (without their secret fields), enums their value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return as_param(value.value, where)
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: as_param(getattr(value, f.name), f"{where}.{f.name}")
            for f in _public_fields(value)
        }
    if isinstance(value, Mapping):
        return {str(key): as_param(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_param(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        return sorted((as_param(item, where) for item in value), key=str)
    raise TypeError(
        f"step parameter {where} is a {type(value).__name__}, which a plan cannot show; "
        "declare a JSON-able field, or override params()"
    )


def _shown(value: object) -> object:
    """A field's value as a description shows it: sequences as ``a, b``."""
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(_shown(item)) for item in value)
    return value


class Step(abc.ABC):
    """One idempotent change on one host, declared as a ``@dataclass(frozen=True)``.

    The fields of the dataclass are the step's parameters. Class attributes a step may set
    (plain attributes, not fields): ``name`` (unique within its task; becomes the last part
    of the node id), ``description`` (one line for plans; ``{field}`` placeholders are
    formatted from the fields), ``timeout`` (seconds for precheck plus run on one host; None:
    the engine's default), ``uploads`` (the step moves large files: it also takes one of the
    engine's upload slots), ``retries`` (None: the engine's default). A step whose name
    depends on its parameters may declare ``name`` as a field instead.

    The engine calls ``precheck`` first. It returns True when the host is already in the
    desired state (False: it is not), or a :class:`Change` whose ``changed`` says the host
    *would* change and whose ``detail`` says how (shown by ``--dry-run``). When nothing
    would change, ``run`` is not called and the pair counts as done (unchanged). Both reach
    the host only through ``ctx.host.runner`` (``ctx.runner``).
    """

    name: str = ""
    description: str = ""
    timeout: float | None = None
    uploads: bool = False
    retries: int | None = None
    reports: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A subclass that declares one of the attributes above as a field (``name: str``)
        # must not inherit the class attribute as the field's default: dataclasses read
        # defaults with getattr, which would make ``name`` optional and its followers illegal.
        own = inspect.get_annotations(cls)
        for attribute in (
            "name",
            "description",
            "timeout",
            "uploads",
            "retries",
            "reports",
        ):
            if attribute in own and attribute not in cls.__dict__:
                setattr(cls, attribute, dataclasses.field())

    @abc.abstractmethod
    async def precheck(self, ctx: Context) -> bool | Change:
        """Whether the host is already in the desired state (or the Change it would take).
        Must not change the host."""

    @abc.abstractmethod
    async def run(self, ctx: Context) -> Change | None:
        """Bring the host to the desired state.

        Return the runner's Change (its ``changed`` and ``detail`` go into the events), or
        None when the change needs no account beyond "changed".
        """

    def params(self) -> Mapping[str, object]:
        """What this step will do, as JSON-able data for plans and the plan's hash: the
        dataclass fields, without those declared with :func:`secret_field`.

        Plans are printed and their hash is stored in checkpoints, hence no secrets.
        """
        if not dataclasses.is_dataclass(self):
            return {}
        label = type(self).__name__
        return {
            f.name: as_param(getattr(self, f.name), f"{label}.{f.name}")
            for f in _public_fields(self)
        }

    def describe(self) -> str:
        """The plan's one line: ``description`` with its ``{field}`` placeholders filled."""
        if not self.description or not dataclasses.is_dataclass(self):
            return self.description
        values = {f.name: _shown(getattr(self, f.name)) for f in _public_fields(self)}
        try:
            return self.description.format_map(values)
        except (KeyError, IndexError, ValueError) as error:
            raise TypeError(
                f"{type(self).__name__}.description {self.description!r} names no public "
                f"field: {error}"
            ) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def pending_change(verdict: bool | Change) -> tuple[bool, str]:
    """A precheck's verdict as (would change, what would change)."""
    if isinstance(verdict, Change):
        return verdict.changed, verdict.detail or (verdict.action if verdict.changed else "")
    return not verdict, ""


class OperationStep(Step):
    """A Step made of Runner operations that each know whether they would change.

    Implement only :meth:`apply`: the engine's precheck is ``apply(check=True)`` (nothing
    changes; the Change says what would) and its run is ``apply(check=False)``. Pass
    ``check`` on to every changing operation; combine several with
    :func:`kubexms.runner.combine`.
    """

    @abc.abstractmethod
    async def apply(self, ctx: Context, *, check: bool) -> Change:
        """Bring the host to the desired state, or with ``check`` only say what that takes."""

    async def precheck(self, ctx: Context) -> Change:
        return await self.apply(ctx, check=True)

    async def run(self, ctx: Context) -> Change:
        return await self.apply(ctx, check=False)


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
