"""``runner.network``: TCP ports on the host."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from kubexms.runner._errors import PortWaitTimeoutError
from kubexms.runner._script import markers

if TYPE_CHECKING:
    from kubexms.runner._runner import Runner

# Listening TCP sockets are state 0A in /proc/net/tcp{,6} (of the host's own network
# namespace); the local port is the hex after the colon. No tool beyond awk is needed.
_LISTENING = r"""kx_listening() {
  awk -v p="$(printf '%04X' "$1")" '
    $4 == "0A" { n = split($2, a, ":"); if (a[n] == p) found = 1 }
    END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}"""


def _check_port(port: int) -> int:
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"TCP port {port!r} is outside 1..65535")
    return port


class Network:
    """Whether something listens on a TCP port of the host."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    async def is_port_open(self, port: int) -> bool:
        """Whether a process on the host listens on TCP ``port`` (any address)."""
        port = _check_port(port)
        script = f"{_LISTENING}\nif kx_listening {port}; then echo @kxms:open; fi"
        result = await self._runner.script(script)
        return bool(markers(result.stdout, "open"))

    async def wait_for_port(
        self, port: int, *, timeout: float = 60.0, interval: float = 0.5
    ) -> None:
        """Wait (polling on the host, one round trip) until something listens on ``port``.

        Raises PortWaitTimeoutError after ``timeout`` seconds.
        """
        port = _check_port(port)
        if timeout <= 0 or interval <= 0:
            raise ValueError("timeout and interval must be positive")
        polls = max(1, math.ceil(timeout / interval))
        script = f"""{_LISTENING}
i=0
while :; do
  if kx_listening {port}; then echo @kxms:open; exit 0; fi
  [ "$i" -ge {polls} ] && exit 0
  i=$((i + 1))
  sleep {interval:g}
done"""
        result = await self._runner.script(script, timeout=timeout + 60)
        if not markers(result.stdout, "open"):
            raise PortWaitTimeoutError(self._runner.host_name, port, timeout)
