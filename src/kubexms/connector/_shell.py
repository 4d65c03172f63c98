"""Shell text for one command: env, cwd, sudo, and a marker that reports the process group.

Every command runs as

    exec setsid -w /bin/sh -c '<payload>'                        (no sudo)
    exec sudo -k -S -p '' /bin/sh -c '<drain; exec setsid -w /bin/sh -c "$1">' kubexms '<payload>'

The payload first prints ``<marker><pgid>`` on stderr, then changes directory, exports the
environment and runs the command. ``setsid`` makes the payload the leader of a fresh process
group, so a timeout can kill the whole tree with one ``kill -KILL -- -<pgid>``.

The sudo password travels on stdin only: it is followed by a random drain token, and the shell
sudo starts reads lines up to that token before the command sees stdin. Whether sudo asked for
the password or not (NOPASSWD rule, root), the command's stdin is exactly what the caller gave.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MARKER_SEARCH_LIMIT = 1 << 20


def quote(text: str) -> str:
    """Quote ``text`` as one word for a POSIX shell."""
    return shlex.quote(text)


def _reject_nul(what: str, text: str) -> None:
    if "\x00" in text:
        raise ValueError(f"{what} contains a NUL byte, which no shell can carry")


def validate_env(env: Mapping[str, str]) -> None:
    """Raise ValueError naming the first variable whose name or value a shell cannot carry."""
    for name, value in env.items():
        if not ENV_NAME.fullmatch(name):
            raise ValueError(
                f"environment variable name {name!r} is not valid: "
                "use letters, digits and underscores, not starting with a digit"
            )
        _reject_nul(f"environment variable {name}", value)


def validate_sudo_password(password: str) -> None:
    """sudo reads one line from stdin, so a password cannot contain a line break."""
    if "\n" in password or "\r" in password or "\x00" in password:
        raise ValueError("the sudo password contains a line break or NUL, which sudo cannot read")


@dataclass(frozen=True, slots=True)
class Elevation:
    """Run under sudo; ``password`` is fed on stdin, or ``None`` for ``sudo -n``."""

    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class WrappedCommand:
    """What to hand the host's shell, what to write to stdin first, and the stderr marker."""

    text: str
    stdin_prefix: bytes = field(repr=False)
    pid_marker: bytes


def _payload(
    command: str,
    env: Mapping[str, str] | None,
    cwd: str | None,
    marker: str,
    pgid_log: str | None = None,
) -> str:
    lines = [f"printf '%s%s\\n' {quote(marker)} \"$$\" >&2"]
    if pgid_log is not None:
        lines.append(process_group_line(pgid_log))
    if cwd is not None:
        _reject_nul("cwd", cwd)
        lines.append(f"cd -- {quote(cwd)} || exit 1")
    if env:
        validate_env(env)
        lines.extend(f"export {name}={quote(value)}" for name, value in env.items())
    # The command follows verbatim on its own line: the lines above are complete commands,
    # so nothing in it can change how they parse, and it is quoted only once overall.
    lines.append(command)
    return "\n".join(lines)


def wrap_command(
    command: str,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    elevation: Elevation | None = None,
    token: str,
    pgid_log: str | None = None,
) -> WrappedCommand:
    """Build the shell text that runs ``command`` as described in the module docstring.

    ``token`` must be unpredictable (e.g. ``secrets.token_hex(16)``): it marks the pgid line on
    stderr and ends the sudo password on stdin.
    """
    _reject_nul("command", command)
    marker = f"<kubexms-pgid-{token}>"
    payload = _payload(command, env, cwd, marker, pgid_log)
    if elevation is None:
        return WrappedCommand(
            text=f"exec setsid -w /bin/sh -c {quote(payload)}",
            stdin_prefix=b"",
            pid_marker=marker.encode(),
        )
    launch = 'exec setsid -w /bin/sh -c "$1"'
    if elevation.password is None:
        text = f"exec sudo -n /bin/sh -c {quote(launch)} kubexms {quote(payload)}"
        return WrappedCommand(text=text, stdin_prefix=b"", pid_marker=marker.encode())
    validate_sudo_password(elevation.password)
    drain_token = f"kubexms-stdin-{token}"
    drain = (
        f'while IFS= read -r kubexms_line; do [ "$kubexms_line" = {drain_token} ] && break; done'
    )
    script = f"{drain}\n{launch}"
    text = f"exec sudo -k -S -p '' /bin/sh -c {quote(script)} kubexms {quote(payload)}"
    prefix = f"{elevation.password}\n{drain_token}\n".encode()
    return WrappedCommand(text=text, stdin_prefix=prefix, pid_marker=marker.encode())


DEFAULT_STOP_GRACE = 5.0
"""Seconds a stopped command's process group has between TERM and KILL."""


def kill_group_command(pgid: int, grace: float = DEFAULT_STOP_GRACE) -> str:
    """Stop process group ``pgid``: TERM, then KILL if it still runs after ``grace`` seconds
    (a package manager gets to end its transaction cleanly). Succeeds once the group is
    gone; prints ``@kxms:killed`` if KILL was needed. (dash's ``kill -0`` takes no ``--``.)"""
    ticks = max(0, round(grace * 10))
    return "\n".join(
        [
            f"g={pgid}",
            'kill -s TERM -- -"$g" 2>/dev/null || exit 0',
            f"n={ticks}",
            'while [ "$n" -gt 0 ] && kill -0 -"$g" 2>/dev/null; do sleep 0.1; n=$((n - 1)); done',
            'kill -0 -"$g" 2>/dev/null || exit 0',
            "echo @kxms:killed",
            'kill -s KILL -- -"$g" 2>/dev/null',
            "n=50",
            'while [ "$n" -gt 0 ] && kill -0 -"$g" 2>/dev/null; do sleep 0.1; n=$((n - 1)); done',
            '! kill -0 -"$g" 2>/dev/null',
        ]
    )


def process_group_line(log: str) -> str:
    """Shell text appending ``<pgid> <start time>`` of the payload to ``log``, with builtins
    only (no fork per command): the host lock of a run names this file, so a later
    ``--break-lock`` can tell whether that run's remote work still goes on. Never fails."""
    skip = " ".join(["_"] * 21)
    return (
        f"if read -r {skip} kx_start _ 2>/dev/null </proc/$$/stat; then "
        f'printf \'%s %s\\n\' "$$" "$kx_start" 2>/dev/null >>{quote(log)} || :; fi; '
        "unset kx_start"
    )


class PgidMarkerFilter:
    """Takes the ``<marker><pgid>`` line out of a stderr stream and remembers the pgid.

    Bytes before the marker (e.g. a sudo warning) are kept; they are held back only until the
    marker is found, the stream ends, or a megabyte has gone by without it.
    """

    def __init__(self, marker: bytes) -> None:
        self._marker = marker
        self._pending = bytearray()
        self._searching = True
        self.pgid: int | None = None
        self.settled = asyncio.Event()

    @property
    def seen(self) -> bool:
        """True once the payload's marker line arrived: the command itself started."""
        return self.pgid is not None

    def feed(self, chunk: bytes) -> bytes:
        """Return what of ``chunk`` (plus held-back bytes) belongs to the command's stderr."""
        if not self._searching:
            return chunk
        self._pending += chunk
        start = self._pending.find(self._marker)
        if start >= 0:
            end = self._pending.find(b"\n", start)
            if end < 0:
                return b""
            digits = bytes(self._pending[start + len(self._marker) : end])
            if digits.isdigit():
                self.pgid = int(digits)
            out = bytes(self._pending[:start] + self._pending[end + 1 :])
            self._finish()
            return out
        if len(self._pending) > _MARKER_SEARCH_LIMIT:
            out = bytes(self._pending)
            self._finish()
            return out
        return b""

    def close(self) -> bytes:
        """The stream ended: return whatever was held back."""
        out = bytes(self._pending) if self._searching else b""
        self._finish()
        return out

    def _finish(self) -> None:
        self._pending.clear()
        self._searching = False
        self.settled.set()
