"""EngineOptions and RunResult: how a run is carried out, and what came of it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from kubexms.config import Cluster
from kubexms.engine._retry import RetryPolicy

DEFAULT_UPLOAD_CONCURRENCY = 10


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Limits and policies of one run.

    ``concurrency``: (node, host) pairs worked on at once across the whole run (config
    ``global.concurrency``); ``upload_concurrency``: of those, how many may run steps that
    move large files; ``step_timeout``: default seconds for one step on one host (config
    ``global.commandTimeout``), after which its commands are cancelled and killed;
    ``continue_on_error``: keep going on the healthy hosts instead of stopping at the first
    failure; ``rollback_timeout``: seconds a step's rollback may take; ``prechecks_ahead``:
    while the run has changed nothing, precheck later pairs early (see ``_ahead``).
    """

    concurrency: int = 50
    upload_concurrency: int = DEFAULT_UPLOAD_CONCURRENCY
    step_timeout: float = 600.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    continue_on_error: bool = False
    rollback_timeout: float = 300.0
    prechecks_ahead: bool = True

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.upload_concurrency < 1:
            raise ValueError("concurrency and upload_concurrency must be at least 1")
        if self.step_timeout <= 0 or self.rollback_timeout <= 0:
            raise ValueError("timeouts must be positive")

    @classmethod
    def from_config(cls, config: Cluster, **changes: Any) -> EngineOptions:
        """Options from the cluster file's ``global`` section, with ``changes`` applied."""
        settings = config.spec.global_
        base = cls(
            concurrency=settings.concurrency,
            upload_concurrency=min(DEFAULT_UPLOAD_CONCURRENCY, settings.concurrency),
            step_timeout=float(settings.command_timeout),
        )
        return dataclasses.replace(base, **changes)


@dataclass(frozen=True, slots=True)
class PairFailure:
    """One (node, host) pair that failed, with the error a user needs to act on."""

    node: str
    host: str
    error: str
    error_type: str


@dataclass(slots=True)
class RunResult:
    """The outcome of a run (or dry run) of one graph."""

    pipeline: str
    run_id: str
    dry_run: bool
    duration: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[PairFailure] = field(default_factory=list)
    would_change: list[tuple[str, str]] = field(default_factory=list)
    change_details: dict[tuple[str, str], str] = field(default_factory=dict)
    """(node, host) -> what would change there, as its precheck said (dry runs)."""
    interrupted: bool = False

    @property
    def succeeded(self) -> bool:
        """No pair failed, none was skipped for a failure, and the run was not interrupted."""
        return not self.failures and not self.interrupted

    @property
    def outcome(self) -> str:
        if self.interrupted:
            return "interrupted"
        return "succeeded" if self.succeeded else "failed"

    @property
    def failed_hosts(self) -> list[str]:
        """Hosts with at least one failed pair, first failure first."""
        return list(dict.fromkeys(failure.host for failure in self.failures))
