"""Kernel modules and kernel parameters for Kubernetes, now and at boot."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from shlex import quote

from kubexms.engine import DataKey, ReversibleStep, Step
from kubexms.runner import (
    MODULES_FILE,
    SYSCTL_FILE,
    Change,
    absent_modules,
    absent_modules_script,
    sysctl_path,
)
from kubexms.runtime import Context


class LoadKernelModules(Step):
    """The modules are loaded (or built in) now and listed for loading at boot."""

    name = "kernel-modules"

    def __init__(self, modules: Sequence[str]) -> None:
        self.modules = list(modules)
        self.description = f"kernel modules {', '.join(self.modules)} now and at boot"

    def params(self) -> Mapping[str, object]:
        return {"modules": self.modules, "file": MODULES_FILE}

    async def precheck(self, ctx: Context) -> bool:
        probe = absent_modules_script(self.modules)
        result = await ctx.runner.run(f"{probe}\necho ---\ncat {MODULES_FILE}")
        head, _, listed = result.stdout.partition("---\n")
        wanted = "".join(f"{name}\n" for name in self.modules)
        return result.ok and not absent_modules(head) and listed == wanted

    async def run(self, ctx: Context) -> Change | None:
        return await ctx.runner.system.kernel_modules(self.modules)


def sysctl_file(values: Mapping[str, str]) -> str:
    """The persistent file's content, as the Runner writes it."""
    return "# Managed by kubexms.\n" + "".join(f"{k} = {v}\n" for k, v in values.items())


# KEY PATH: prints "KEY <state> <base64 value>", state: missing | rw | ro.
_SYSCTL_PROBE = r"""kx_read() {
  if [ ! -e "$2" ]; then echo "$1 missing -"; return; fi
  v=$(tr -s ' \t' '  ' < "$2" | base64 -w0)
  if [ -w "$2" ]; then echo "$1 rw $v"; else echo "$1 ro $v"; fi
}"""


async def read_sysctl(ctx: Context, keys: Sequence[str]) -> dict[str, tuple[str, str | None]]:
    """key -> (missing | rw | ro, current value) as the host sees it now."""
    lines = "\n".join(f"kx_read {quote(k)} {quote(sysctl_path(k))}" for k in keys)
    result = await ctx.runner.must_run(f"{_SYSCTL_PROBE}\n{lines}")
    found: dict[str, tuple[str, str | None]] = {}
    for line in result.stdout.splitlines():
        key, state, encoded = line.split(" ", 2)
        value = None if state == "missing" else base64.b64decode(encoded).decode().strip()
        found[key] = (state, value)
    return found


@dataclass(frozen=True, slots=True)
class _SysctlBefore:
    """What a sysctl run found, for its rollback: the old file (None: there was none) and
    the old values of the keys it could change live."""

    file: str | None
    live: dict[str, str]


class ApplySysctl(ReversibleStep):
    """Kernel parameters set now (where the host lets them be) and in a file for boot.

    A key whose /proc/sys entry is read-only here (a container or simulated host, where only
    ``net.*`` is writable) counts as done once the file holds it. If applying fails, the
    rollback puts the file and the live values back as they were.
    """

    name = "sysctl"

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.description = f"{len(self.values)} kernel parameters now and at boot"
        self._saved = DataKey(f"hostprep.sysctl-before:{SYSCTL_FILE}", _SysctlBefore)

    def params(self) -> Mapping[str, object]:
        return {"values": self.values, "file": SYSCTL_FILE}

    async def precheck(self, ctx: Context) -> bool:
        current = await read_sysctl(ctx, list(self.values))
        for key, wanted in self.values.items():
            state, value = current[key]
            if state == "missing" or (state == "rw" and value != wanted):
                return False
        result = await ctx.runner.run(f"cat {SYSCTL_FILE}")
        return result.ok and result.stdout == sysctl_file(self.values)

    async def run(self, ctx: Context) -> Change | None:
        before = await read_sysctl(ctx, list(self.values))
        old = await ctx.runner.run(f"cat {SYSCTL_FILE}")
        live = {k: v for k, (state, v) in before.items() if state == "rw" and v is not None}
        if self._saved not in ctx.shared_data:  # a retry must not overwrite the true "before"
            ctx.shared_data.set(self._saved, _SysctlBefore(old.stdout if old.ok else None, live))
        return await ctx.runner.system.sysctl(self.values)

    async def rollback(self, ctx: Context) -> None:
        saved = ctx.shared_data.get_or(self._saved, None)
        if saved is None:
            return  # the run failed before it changed anything
        if saved.file is None:
            await ctx.runner.files.remove(SYSCTL_FILE)
        else:
            await ctx.runner.files.write(SYSCTL_FILE, saved.file)
        restore = "\n".join(
            f"printf '%s\\n' {quote(value)} > {quote(sysctl_path(key))} || true"
            for key, value in saved.live.items()
        )
        if restore:
            await ctx.runner.script(restore)
