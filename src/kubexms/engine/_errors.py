"""Engine errors: planning, checks, timeouts, checkpoints. Each message reads as a sentence."""

from __future__ import annotations

from kubexms._errors import KubexmsError


class PlanError(KubexmsError):
    """The pipeline could not be planned: a duplicate node id, a cycle, an unknown task, a host
    selection that names nothing, or an exception raised by a planner. Nothing has run."""


class CheckFailedError(KubexmsError):
    """A preflight check found the host unfit; ``host`` and ``check`` name where and what."""

    label = "check failed"

    def __init__(self, host: str, check: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.check = check
        self.reason = message


class StepTimeoutError(KubexmsError):
    """A step ran past its timeout on one host; its commands were cancelled (and killed)."""

    retryable = True
    label = "timed out"

    def __init__(self, host: str, node: str, timeout: float) -> None:
        super().__init__(f"{host}: {node} did not finish within {timeout:g}s and was cancelled")
        self.host = host
        self.node = node
        self.timeout = timeout


class CheckpointError(KubexmsError):
    """The checkpoint cannot be used to resume (absent, unreadable, or for another config)."""


def is_retryable(error: BaseException) -> bool:
    """Whether retrying could help: the error's own ``retryable`` (a lost connection or a
    timeout), never for anything that is not a KubexmsError.

    Authentication, host-key and failed-command errors are final; so is any error a step
    raises itself (a check that failed, a missing kernel module) unless it says otherwise.
    """
    return isinstance(error, KubexmsError) and error.retryable
