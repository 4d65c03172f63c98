"""The one error type the sandbox raises."""

from __future__ import annotations

__all__ = ["SandboxError"]


class SandboxError(Exception):
    """A simulated fleet could not be brought up, inspected or torn down.

    The message says what is wrong and, where there is one, what to do about it.
    """
