"""The one error type the sandbox raises."""

from __future__ import annotations

from kubexms._errors import KubexmsError

__all__ = ["SandboxError"]


class SandboxError(KubexmsError):
    """A simulated fleet could not be brought up, inspected or torn down.

    The message says what is wrong and, where there is one, what to do about it.
    """
