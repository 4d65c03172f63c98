"""Running a command inside a host through its namespaces, independent of SSH."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from kubexms.sandbox._command import TOOL_ENV
from kubexms.sandbox._errors import SandboxError
from kubexms.sandbox._process import ProcessIdentity, is_alive

__all__ = ["exec_in_host"]

# A login-like environment inside the host, built there (env -i), not inherited from us.
_HOST_ENV = (
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "USER=root",
    "LOGNAME=root",
    "SHELL=/bin/sh",
    "LANG=C.UTF-8",
)


async def exec_in_host(
    host: str, init: ProcessIdentity, command: str, *, stdin: bytes | None = None
) -> tuple[int, str, str]:
    """Run ``sh -c command`` as root in the namespaces and root of the host whose PID 1 is ``init``.

    Returns (exit code, stdout, stderr). If the caller is cancelled, the command's whole
    process group is killed.
    """
    if not is_alive(init):
        raise SandboxError(f"host {host} is not running (its init, PID {init.pid}, is gone)")
    argv = [
        "nsenter",
        f"--target={init.pid}",
        "--mount",
        "--uts",
        "--ipc",
        "--net",
        "--pid",
        "--cgroup",
        "--root",
        "--wd",
        "--",
        "/usr/bin/env",
        "-i",
        *_HOST_ENV,
        "/bin/sh",
        "-c",
        command,
    ]
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=TOOL_ENV,
        start_new_session=True,
    )
    try:
        out, err = await process.communicate(stdin)
    except BaseException:
        # The command runs as nsenter's child inside the host's PID namespace, in nsenter's
        # process group (which only we and it are in): kill the group, not just nsenter.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        raise
    code = process.returncode if process.returncode is not None else -1
    return code, out.decode(errors="replace"), err.decode(errors="replace")
