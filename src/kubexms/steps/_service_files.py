"""ServiceFile: a file that belongs to a systemd service, and the gate that validates a new
version of it with the daemon itself before it replaces the one the service runs from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from shlex import quote

from kubexms.runner import FileSpec, RunnerError
from kubexms.runtime import Context
from kubexms.steps._probe import WantedFile, check_absolute, marker, probe_values

CANDIDATE_SUFFIX = ".kubexms-new"


class ServiceFileInvalidError(RunnerError):
    """A service file failed its ``validate`` command; the file in place was not touched."""

    def __init__(self, host: str, path: str, command: str, output: str) -> None:
        shown = output.strip()[-2000:]
        message = f"{path} was not replaced: `{command}` refused the new version"
        if shown:
            message += "\n    " + "\n    ".join(shown.splitlines())
        super().__init__(host, message)
        self.path = path
        self.command = command
        self.output = output


@dataclass(frozen=True)
class ServiceFile:
    """A file that belongs to a service (its configuration): a change to it restarts the
    service, or with ``reload`` reloads it (``systemctl reload``; the unit needs an
    ``ExecReload``). ``validate``: a command (shell text, run as root) that checks the new
    version before it replaces the file, ``{path}`` standing for where that version was
    written (e.g. ``haproxy -c -f {path}``). ``secret``: the content never appears in plans,
    only its sha256."""

    path: str
    content: str = field(repr=False)
    mode: int = 0o644
    owner: str | None = None
    secret: bool = False
    reload: bool = False
    validate: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", check_absolute(self.path, "service file path"))
        if self.validate is not None and "{path}" not in self.validate:
            raise ValueError(f"validate command for {self.path} must name {{path}}")

    @property
    def candidate(self) -> str:
        """Where the new version is written to be validated before it replaces the file."""
        return self.path + CANDIDATE_SUFFIX

    def validate_command(self) -> str:
        assert self.validate is not None
        return self.validate.replace("{path}", quote(self.candidate))

    @property
    def data(self) -> bytes:
        return self.content.encode()

    def wanted(self) -> WantedFile:
        return WantedFile.of(self.path, self.data, self.mode, self.owner)


async def validate_candidates(ctx: Context, files: Sequence[ServiceFile]) -> None:
    """Write each file's new version beside it and run its ``validate`` command there; the
    first refusal removes every candidate and raises. Targets are not touched."""
    if not files:
        return
    await ctx.runner.files.write_many(
        [FileSpec(f.candidate, f.data, f.mode, f.owner) for f in files]
    )
    candidates = " ".join(quote(f.candidate) for f in files)
    checks = "\n".join(
        f"if ! out=$({f.validate_command()} 2>&1); then rm -f -- {candidates}; "
        f'{marker("invalid", str(index))}; printf "%s\\n" "$out"; exit 0; fi'
        for index, f in enumerate(files)
    )
    result = await ctx.runner.script("exec sh -s", stdin=checks + "\n")
    invalid = probe_values(result.stdout, "invalid")
    if invalid:
        bad = files[int(invalid[0])]
        output = result.stdout.split(marker("invalid", invalid[0]).removeprefix("echo "), 1)[-1]
        raise ServiceFileInvalidError(ctx.host.name, bad.path, bad.validate_command(), output)


async def place_candidates(ctx: Context, files: Sequence[ServiceFile]) -> None:
    """Move validated candidates over their targets (a rename: atomic, mode kept)."""
    if files:
        moves = " && ".join(f"mv -f -- {quote(f.candidate)} {quote(f.path)}" for f in files)
        await ctx.runner.must_run(moves)
