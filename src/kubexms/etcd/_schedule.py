"""Scheduled backups (``spec.etcd.backup``): a systemd timer on every etcd host.

With ``schedule`` set, each etcd host gets a small script (``kubexms-etcd-backup``) that saves
a snapshot of its own member into ``dir`` with a ``.sha256`` beside it and keeps the newest
``keep``, a oneshot service running it and a timer firing it ``OnCalendar=<schedule>``. The
schedule is checked on the host with ``systemd-analyze calendar`` before anything is placed.
Without a schedule the timer and its units are removed again (snapshots already taken stay).

``backup_schedule_task(cluster)`` is the Task the etcd phase appends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kubexms.config import Cluster
from kubexms.engine import Check, CheckFailedError, OperationStep, Roles, Task
from kubexms.etcd._layout import etcdctl_command
from kubexms.runner import Change, render_template
from kubexms.runner._change import combine
from kubexms.runner._script import quote
from kubexms.runtime import Context
from kubexms.steps import RenderContext, RenderedFile

TEMPLATES = Path(__file__).parent / "templates"
SCRIPT_PATH = "/usr/local/bin/kubexms-etcd-backup"
SERVICE_UNIT = "kubexms-etcd-backup.service"
TIMER_UNIT = "kubexms-etcd-backup.timer"
UNIT_DIRECTORY = "/etc/systemd/system"
SERVICE_PATH = f"{UNIT_DIRECTORY}/{SERVICE_UNIT}"
TIMER_PATH = f"{UNIT_DIRECTORY}/{TIMER_UNIT}"
BACKUP_SCHEDULE_TASK = "backup-schedule"

# Where the host has no systemd-analyze: the OnCalendar shapes systemd documents, nothing more
# (a shorthand like "daily", or "[weekday] [date] [time]" built from digits and * , . / - : ~).
_SHORTHANDS = {
    "minutely",
    "hourly",
    "daily",
    "monthly",
    "weekly",
    "yearly",
    "annually",
    "quarterly",
    "semiannually",
}
_CALENDAR = re.compile(
    r"((Mon|Tue|Wed|Thu|Fri|Sat|Sun)([.,-]{1,2}(Mon|Tue|Wed|Thu|Fri|Sat|Sun))*\s+)?"
    r"([0-9*][0-9*,./~-]*\s+)?"
    r"[0-9*][0-9*,./:-]*(\s+(UTC|[A-Za-z_]+/[A-Za-z_]+))?"
)


def schedule_looks_valid(schedule: str) -> bool:
    """A conservative offline check of an OnCalendar expression (true: plausibly valid)."""
    text = schedule.strip()
    return text.lower() in _SHORTHANDS or bool(_CALENDAR.fullmatch(text))


@dataclass(frozen=True, slots=True)
class BackupSchedule:
    """``spec.etcd.backup`` with a schedule, and the cluster's name (it prefixes file names)."""

    cluster: str
    schedule: str
    keep: int
    dir: str

    @classmethod
    def of(cls, cluster: Cluster) -> BackupSchedule | None:
        backup = cluster.spec.etcd.backup
        if backup.schedule is None:
            return None
        return cls(cluster.name, backup.schedule, backup.keep, str(backup.dir))

    def prefix(self, host: str) -> str:
        """Snapshot names on ``host``: ``<prefix>-<UTC stamp>.db``."""
        return f"{self.cluster}-etcd-{host}"

    def files(self, host: str) -> dict[str, str]:
        """The script and both units for ``host``: path -> content."""
        part = '"$part"'
        variables = {
            "cluster": self.cluster,
            "dir": self.dir,
            "dir_quoted": quote(self.dir),
            "prefix_quoted": quote(self.prefix(host)),
            "keep": self.keep,
            "save": etcdctl_command(f"snapshot save {part}"),
            "script": SCRIPT_PATH,
            "schedule": self.schedule,
        }
        return {
            SCRIPT_PATH: render_template(TEMPLATES / "kubexms-etcd-backup.sh.j2", variables),
            SERVICE_PATH: render_template(TEMPLATES / "kubexms-etcd-backup.service.j2", variables),
            TIMER_PATH: render_template(TEMPLATES / "kubexms-etcd-backup.timer.j2", variables),
        }


@dataclass(frozen=True)
class ValidateBackupSchedule(Check):
    """systemd on the host accepts the schedule (``systemd-analyze calendar``)."""

    schedule: str

    name = "backup-schedule-valid"
    description = "systemd accepts OnCalendar={schedule}"

    async def verify(self, ctx: Context) -> None:
        where = "spec.etcd.backup.schedule"
        result = await ctx.runner.run(
            "if command -v systemd-analyze >/dev/null 2>&1; then "
            f"systemd-analyze calendar {quote(self.schedule)}; else echo @kxms:no-analyze; fi"
        )
        if "@kxms:no-analyze" in result.stdout:
            if not schedule_looks_valid(self.schedule):
                raise CheckFailedError(
                    ctx.host.name,
                    self.name,
                    f"{where}: {self.schedule!r} is not an OnCalendar "
                    "expression (e.g. 'daily' or '*-*-* 02:00:00')",
                )
            return
        if not result.ok:
            reason = (result.stderr.strip().splitlines() or ["rejected"])[-1]
            raise CheckFailedError(
                ctx.host.name, self.name, f"{where}: systemd rejects {self.schedule!r}: {reason}"
            )


@dataclass(frozen=True)
class InstallBackupTimer(OperationStep):
    """The backup script and its service and timer units are on the host, the timer enabled
    and running; a changed timer is restarted so that its new schedule counts."""

    backup: BackupSchedule

    name = "backup-timer"
    description = "etcd snapshots by kubexms-etcd-backup.timer"

    def describe(self) -> str:
        backup = self.backup
        return (
            f"{TIMER_UNIT}: etcd snapshots OnCalendar={backup.schedule} into {backup.dir}, "
            f"newest {backup.keep} kept"
        )

    def rendered_files(self, ctx: RenderContext) -> list[RenderedFile]:
        """The script (0755) and the service and timer units (``kubexms render``)."""
        files = self.backup.files(ctx.host.name)
        return [
            RenderedFile(path, files[path].encode(), 0o755 if path == SCRIPT_PATH else 0o644)
            for path in (SCRIPT_PATH, SERVICE_PATH, TIMER_PATH)
        ]

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        runner = ctx.runner
        files = self.backup.files(ctx.host.name)
        changes = [
            await runner.files.write(SCRIPT_PATH, files[SCRIPT_PATH], mode=0o755, check=check),
            await runner.services.install_unit(SERVICE_UNIT, files[SERVICE_PATH], check=check),
        ]
        timer = await runner.services.install_unit(TIMER_UNIT, files[TIMER_PATH], check=check)
        changes += [timer, await runner.services.enable(TIMER_UNIT, check=check)]
        if timer.changed and await runner.services.is_active(TIMER_UNIT):
            changes.append(await runner.services.restart(TIMER_UNIT, check=check))
        else:
            changes.append(await runner.services.start(TIMER_UNIT, check=check))
        return combine("scheduled etcd snapshots", changes)


@dataclass(frozen=True)
class RemoveBackupTimer(OperationStep):
    """No backup timer is left from an earlier schedule (the snapshots themselves stay)."""

    name = "no-backup-timer"
    description = "no scheduled etcd snapshots (spec.etcd.backup.schedule is not set)"

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        runner = ctx.runner
        paths = " ".join(quote(path) for path in (TIMER_PATH, SERVICE_PATH, SCRIPT_PATH))
        # The usual case (never scheduled) costs one round trip.
        if not await runner.check(f'for p in {paths}; do [ -e "$p" ] && exit 0; done; exit 1'):
            return Change(False, "remove scheduled etcd snapshots")
        changes: list[Change] = []
        if await runner.files.exists(TIMER_PATH):
            changes += [
                await runner.services.stop(TIMER_UNIT, check=check),
                await runner.services.disable(TIMER_UNIT, check=check),
            ]
        for path in (TIMER_PATH, SERVICE_PATH):
            changes.append(await runner.files.remove(path, check=check))
        if any(change.changed for change in changes):
            changes.append(await runner.services.daemon_reload(check=check))
        changes.append(await runner.files.remove(SCRIPT_PATH, check=check))
        return combine("remove scheduled etcd snapshots", changes)


def backup_schedule_task(cluster: Cluster) -> Task:
    """The Task the etcd phase appends: install (or remove) the backup timer on the etcd
    hosts as ``spec.etcd.backup.schedule`` says."""
    backup = BackupSchedule.of(cluster)
    if backup is None:
        return Task(BACKUP_SCHEDULE_TASK, [RemoveBackupTimer()], Roles("etcd"))
    return Task(
        BACKUP_SCHEDULE_TASK,
        [ValidateBackupSchedule(backup.schedule), InstallBackupTimer(backup)],
        Roles("etcd"),
    )
