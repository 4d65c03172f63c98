"""Runtime errors: start-up failures, gathered across every host."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from kubexms._errors import KubexmsError
from kubexms.connector import ConnectorError


class InitializationError(ExceptionGroup[ConnectorError], KubexmsError):
    """Start-up failed on one or more hosts; ``exceptions`` holds one error per failed host.

    Each sub-error is a typed ConnectorError (HostConnectionError, AuthenticationError,
    HostKeyError, ...) whose ``host`` names the host, so callers can act per cause.
    """

    def __new__(cls, errors: Sequence[ConnectorError]) -> Self:
        errors = list(errors)
        if len(errors) == 1:
            message = f"runtime initialization failed: {errors[0]}"
        else:
            lines = "\n".join(f"  - {error}" for error in errors)
            message = f"runtime initialization failed on {len(errors)} hosts:\n{lines}"
        return super().__new__(cls, message, errors)

    def __init__(self, errors: Sequence[ConnectorError]) -> None:
        # ExceptionGroup's own __init__ wants (message, exceptions); __new__ built both.
        super().__init__(self.message, list(errors))

    def derive(self, excs: Sequence[ConnectorError]) -> InitializationError:  # type: ignore[override]
        return InitializationError(excs)

    @property
    def errors(self) -> list[ConnectorError]:
        """One typed error per failed host, in config order."""
        return [error for error in self.exceptions if isinstance(error, ConnectorError)]

    @property
    def failed_hosts(self) -> list[str]:
        """Names of the hosts that failed, in config order."""
        return [error.host for error in self.errors]

    def __str__(self) -> str:
        return self.message
