"""One run of a plan against real hosts: checkpoint, host locks, the engine, clean-up.

The order matters: the resume decision is read-only and comes first (a bad ``--resume`` fails
before touching any host); then every target host is locked (a refused run must not clobber
the running one's checkpoint); only then is the checkpoint written and the engine started.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from kubexms.engine._checkpoint import (
    CheckpointKey,
    checkpoint_path,
    config_fingerprint,
    resume_point,
)
from kubexms.engine._events import EventBus
from kubexms.engine._executor import Engine
from kubexms.engine._graph import ExecutionGraph
from kubexms.engine._lock import HostLocks, LockHolder
from kubexms.engine._lock_scripts import LOCK_PATH, process_group_log
from kubexms.engine._options import EngineOptions, RunResult
from kubexms.runner import RUN_DIRECTORIES, run_directory
from kubexms.runtime import ClusterRuntime


@dataclass(frozen=True, slots=True)
class RunRequest:
    """How the user asked for the run. ``command`` is recorded in the host locks."""

    command: str
    resume: bool = False
    force: bool = False
    break_lock: bool = False


@dataclass(slots=True)
class SessionReport:
    """The run's result and what happened around it."""

    result: RunResult
    checkpoint: Path
    resumed_pairs: int = 0
    broken_locks: dict[str, str] = field(default_factory=dict)
    unreleased_locks: dict[str, str] = field(default_factory=dict)


async def run_plan(
    graph: ExecutionGraph,
    runtime: ClusterRuntime,
    request: RunRequest,
    *,
    options: EngineOptions,
    events: EventBus,
    run_id: str,
    work_dir: Path,
    lock_path: str = LOCK_PATH,
    unreleased: dict[str, str] | None = None,
    temp_root: str = RUN_DIRECTORIES,
) -> SessionReport:
    """Run ``graph`` with checkpointing and host locks.

    Raises CheckpointError (bad ``--resume``) or HostLockError (hosts held by another run)
    before anything changes. On success the checkpoint is removed (nothing is left to
    resume); on failure it stays for ``--resume``. ``unreleased``, if given, receives the
    hosts whose lock could not be released (and why), also when the run is cancelled.
    The run's temporary files on each host live in ``run_directory(run_id, temp_root)``,
    removed at the end.
    """
    key = CheckpointKey(graph.pipeline, config_fingerprint(runtime.config), graph.fingerprint())
    start = resume_point(
        checkpoint_path(work_dir, graph.pipeline), key, resume=request.resume, force=request.force
    )
    holder = LockHolder.this_process(run_id, request.command, runtime.config.name)
    # Hosts left out at start-up cannot be locked; they fail in the run instead.
    # In the cluster file's order: the one order every run takes host locks in.
    planned = set(graph.hosts())
    hosts = [host for host in runtime.hosts if host.name in planned]
    run_dir = run_directory(run_id, temp_root)
    for host in hosts:
        host.runner.temp_dir = run_dir  # the run's temporary files, in one directory
    locks = HostLocks(
        hosts,
        holder,
        break_stale=request.break_lock,
        concurrency=options.concurrency,
        path=lock_path,
        run_dir=run_dir,
        stop_grace=max((host.runner.connector.stop_grace for host in hosts), default=5.0),
    )
    try:
        await locks.acquire()
    except asyncio.CancelledError:
        # Stopped (a signal) while locking: give back the locks already taken.
        await locks.release()
        if unreleased is not None:
            unreleased.update(locks.release_errors)
        raise
    for host in hosts:
        # Under our lock, its commands' process groups are recorded where the lock names
        # them: a later --break-lock can tell whether this run's remote work still goes on.
        host.runner.connector.process_group_log = process_group_log(run_id, lock_path)
    try:
        writer = start.open_writer()
        engine = Engine(
            runtime,
            options,
            events,
            checkpoint=writer,
            completed=start.completed,
            run_id=run_id,
        )
        try:
            result = await engine.run(graph)
        finally:
            writer.close()
        if result.succeeded:
            writer.discard()
    finally:
        await locks.release()
        if unreleased is not None:
            unreleased.update(locks.release_errors)
    return SessionReport(
        result=result,
        checkpoint=start.path,
        resumed_pairs=len(start.completed),
        broken_locks=dict(locks.broken),
        unreleased_locks=dict(locks.release_errors),
    )
