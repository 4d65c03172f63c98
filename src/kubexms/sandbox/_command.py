"""Running the machine's tools (ip, openssl, nsenter, ...) from asyncio."""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass

from kubexms.sandbox._errors import SandboxError

__all__ = ["ToolResult", "run_tool"]

# The tools are found by name; this PATH has the sbin directories a plain shell may lack.
TOOL_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}


@dataclass(frozen=True)
class ToolResult:
    """Exit status and decoded output of one tool run."""

    exit_code: int
    stdout: str
    stderr: str


async def run_tool(
    argv: list[str], *, stdin: bytes | None = None, check: bool = True, what: str = ""
) -> ToolResult:
    """Run ``argv`` to completion; with ``check``, a non-zero exit raises a SandboxError.

    Secrets go through ``stdin``, never ``argv``. ``what`` says in the error what was being done.
    """
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=TOOL_ENV,
        )
    except FileNotFoundError as exc:
        raise SandboxError(f"cannot run {argv[0]}: not installed") from exc
    try:
        out, err = await process.communicate(stdin)
    except BaseException:
        # Cancelled: do not leave the tool running behind us.
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    result = ToolResult(
        exit_code=process.returncode if process.returncode is not None else -1,
        stdout=out.decode(errors="replace"),
        stderr=err.decode(errors="replace"),
    )
    if check and result.exit_code != 0:
        doing = f" while {what}" if what else ""
        detail = result.stderr.strip() or result.stdout.strip() or "no output"
        raise SandboxError(
            f"{shlex.join(argv[:4])}{' ...' if len(argv) > 4 else ''} failed{doing} "
            f"(exit {result.exit_code}): {detail}"
        )
    return result
