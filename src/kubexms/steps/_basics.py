"""Small blocks many components need: a directory with its mode, names in /etc/hosts."""

from __future__ import annotations

from dataclasses import dataclass

from kubexms.engine import OperationStep
from kubexms.runner import Change
from kubexms.runner._managed_block import replace_block
from kubexms.runtime import Context
from kubexms.steps._probe import check_absolute
from kubexms.steps._rendered import RenderContext, RenderedFile

HOSTS_FILE = "/etc/hosts"
THIS_HOST = "@self"
"""An address in HostsEntries meaning the host's own internal address."""


@dataclass(frozen=True)
class Directory(OperationStep):
    """A directory (parents created) with ``mode`` and ``owner`` (e.g. a data dir, 0700)."""

    path: str
    mode: int = 0o755
    owner: str | None = None
    name: str = ""

    description = "directory {path}"

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", check_absolute(self.path))
        if not self.name:
            object.__setattr__(self, "name", f"dir-{self.path.rsplit('/', 1)[-1]}")

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        return await ctx.runner.files.mkdir(
            self.path, mode=self.mode, owner=self.owner, check=check
        )


@dataclass(frozen=True)
class HostsEntries(OperationStep):
    """Names a component needs resolved on the host (a registry, the API endpoint): a block
    of its own in ``file`` (/etc/hosts) between ``# BEGIN <marker>`` and ``# END <marker>``
    lines; the rest of the file stays as it is. Each entry is ``(address, names)``;
    ``@self`` as the address is the host's own internal address."""

    entries: tuple[tuple[str, str], ...]
    marker: str
    file: str = HOSTS_FILE
    name: str = ""

    description = "{file}: block {marker}"

    def __post_init__(self) -> None:
        object.__setattr__(self, "file", check_absolute(self.file))
        if not self.name:
            object.__setattr__(self, "name", f"hosts-{self.marker}")
        for address, names in self.entries:
            if not address or not names or any(c in address + names for c in "\r\n#"):
                raise ValueError(f"hosts entry {(address, names)!r} is empty or spans lines")

    def block(self, own_address: str) -> str:
        lines = [
            (own_address if address == THIS_HOST else address, names)
            for address, names in self.entries
        ]
        width = max((len(address) for address, _ in lines), default=0)
        return "".join(f"{address:<{width}} {names}\n" for address, names in lines)

    def rendered_files(self, ctx: RenderContext) -> list[RenderedFile]:
        """The block between its marker lines (the rest of the file is the host's)."""
        text = replace_block("", self.block(ctx.host.internal_address), marker=self.marker)
        return [RenderedFile(self.file, text.encode(), 0o644, f"block {self.marker}", False)]

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        block = self.block(ctx.host.internal_address)
        return await ctx.runner.files.managed_block(
            self.file, block, marker=self.marker, check=check
        )
