"""Engine errors: planning, checks, timeouts, checkpoints. Each message reads as a sentence."""

from __future__ import annotations

from kubexms.connector import ConnectorError


class PlanError(Exception):
    """The pipeline could not be planned: a duplicate node id, a cycle, an unknown task, a host
    selection that names nothing, or an exception raised by a planner. Nothing has run."""


class CheckFailedError(Exception):
    """A preflight check found the host unfit; ``host`` and ``check`` name where and what."""

    def __init__(self, host: str, check: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.check = check
        self.reason = message


class StepTimeoutError(Exception):
    """A step ran past its timeout on one host; its commands were cancelled (and killed)."""

    retryable = True

    def __init__(self, host: str, node: str, timeout: float) -> None:
        super().__init__(f"{host}: {node} did not finish within {timeout:g}s and was cancelled")
        self.host = host
        self.node = node
        self.timeout = timeout


class CheckpointError(Exception):
    """The checkpoint cannot be used to resume (absent, unreadable, or for another config)."""


def is_retryable(error: BaseException) -> bool:
    """Whether retrying could help: a lost connection or a timeout, never anything else.

    Authentication, host-key and failed-command errors are final; so is any error a step
    raises itself (a check that failed, a missing kernel module).
    """
    if isinstance(error, ConnectorError):
        return error.retryable
    return isinstance(error, StepTimeoutError)
