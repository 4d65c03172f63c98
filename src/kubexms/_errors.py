"""The root of every error kubexms raises on purpose, and the words that label them.

Callers that only need to know "is this ours, and could trying again help?" catch
``KubexmsError`` and read ``retryable``; views print ``label`` (what happened, in a few
words: "timed out", "sudo refused", "unreachable", ...) next to the message.
"""

from __future__ import annotations

__all__ = ["KubexmsError", "error_label"]


class KubexmsError(Exception):
    """Something kubexms could not do; the message says what and, where it can, what to do.

    ``retryable``: whether the same action could succeed if tried again unchanged (a lost
    connection, a timeout), never for a refusal or a wrong input. ``label``: what happened,
    in a few words, for tables and folded views. Subclasses set both as class attributes; an
    instance may override them when the cause is only known at run time.
    """

    retryable: bool = False
    label: str = "failed"


def error_label(error: BaseException) -> str:
    """The label of ``error``: its own for a KubexmsError, "timed out" for a bare timeout,
    "failed" for anything else."""
    if isinstance(error, KubexmsError):
        return error.label
    if isinstance(error, TimeoutError):
        return "timed out"
    return "failed"
