"""Fan-out benchmark: kubexms against bare asyncssh doing the same work, in the same run.

For N simulated hosts (``kubexms sandbox``), each scenario connects to every host, does its
work on all hosts at once, and disconnects:

  a) one ``uname -a`` per host
  b) 20 sequential small commands per host
  c) a 50 MiB file uploaded to every host

kubexms goes through ``new_runtime`` and each host's Runner (``runner.run``,
``runner.files.upload``); the baseline is plain asyncssh with the key and known_hosts loaded
once. Each scenario runs ``--repeat`` times, alternating the two; medians and the ratio
kubexms / asyncssh are printed (target: every ratio <= 1.3).

``--process`` measures whole processes instead, start-up included: ``kubexms exec -- uname -a``
on N hosts against a bare asyncssh script (a new Python process that connects to the same hosts
and prints each one's ``uname -a``), alternating, median wall and CPU (user + system, from the
kernel's accounting of the finished child) of ``--repeat`` runs each.

Needs root (it starts its own fleet unless ``--fleet-dir`` names a running one):

    python benchmarks/fanout.py --hosts 10 50
    python benchmarks/fanout.py --process --hosts 20 50
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import structlog
import yaml

from kubexms.config import load_config
from kubexms.runtime import new_runtime
from kubexms.sandbox import Fleet, fleet_down, fleet_up, load_fleet

SEQUENTIAL_COMMANDS = 20
UPLOAD_MIB = 50


@dataclass
class Sample:
    wall: float
    cpu: float


@dataclass
class Endpoint:
    name: str
    address: str


def subset_cluster(fleet: Fleet, count: int, directory: Path) -> Path:
    """A cluster file for the first ``count`` fleet hosts."""
    document: dict[str, Any] = yaml.safe_load(fleet.cluster_file.read_text())
    hosts = document["spec"]["hosts"][:count]
    names = [host["name"] for host in hosts]
    document["spec"]["hosts"] = hosts
    document["spec"]["roleGroups"] = {"master": names[:1], "etcd": names[:1], "worker": names}
    path = directory / f"cluster-{count}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


async def measure(work: Callable[[], Awaitable[None]]) -> Sample:
    cpu, wall = time.process_time(), time.monotonic()
    await work()
    return Sample(time.monotonic() - wall, time.process_time() - cpu)


class Kubexms:
    def __init__(self, cluster_file: Path) -> None:
        self.cluster = load_config(cluster_file)

    async def uname(self) -> None:
        async with await new_runtime(self.cluster) as runtime:
            await asyncio.gather(*(h.runner.must_run("uname -a") for h in runtime.hosts))

    async def sequential(self) -> None:
        async with await new_runtime(self.cluster) as runtime:

            async def twenty(index: int) -> None:
                for step in range(SEQUENTIAL_COMMANDS):
                    await runtime.hosts[index].runner.must_run(f"echo {step}")

            await asyncio.gather(*(twenty(i) for i in range(len(runtime.hosts))))

    async def upload(self, source: Path, remote: str) -> None:
        async with await new_runtime(self.cluster) as runtime:
            await asyncio.gather(*(h.runner.files.upload(source, remote) for h in runtime.hosts))


class Baseline:
    """The least asyncssh code doing the same work: options loaded once, one connection each."""

    def __init__(self, fleet: Fleet, count: int) -> None:
        self.endpoints = [Endpoint(h.name, h.address) for h in fleet.hosts[:count]]
        self.key = asyncssh.read_private_key(str(fleet.private_key_path))
        self.known_hosts = asyncssh.read_known_hosts(str(fleet.known_hosts_path))

    async def _each(self, work: Callable[[asyncssh.SSHClientConnection], Awaitable[None]]) -> None:
        handshakes = asyncio.Semaphore(64)

        async def one(endpoint: Endpoint) -> None:
            async with handshakes:
                conn = await asyncssh.connect(
                    endpoint.address,
                    username="root",
                    client_keys=[self.key],
                    known_hosts=self.known_hosts,
                    agent_path=None,
                )
            async with conn:
                await work(conn)

        await asyncio.gather(*(one(endpoint) for endpoint in self.endpoints))

    async def uname(self) -> None:
        async def work(conn: asyncssh.SSHClientConnection) -> None:
            await conn.run("uname -a", check=True)

        await self._each(work)

    async def sequential(self) -> None:
        async def work(conn: asyncssh.SSHClientConnection) -> None:
            for step in range(SEQUENTIAL_COMMANDS):
                await conn.run(f"echo {step}", check=True)

        await self._each(work)

    async def upload(self, source: Path, remote: str) -> None:
        async def work(conn: asyncssh.SSHClientConnection) -> None:
            async with conn.start_sftp_client() as sftp:
                await sftp.put(str(source), remote)

        await self._each(work)


async def cleanup(fleet: Fleet, count: int, remote: str) -> None:
    await asyncio.gather(*(fleet.host_exec(h.name, f"rm -f {remote}") for h in fleet.hosts[:count]))


def bind(run: Callable[[Any], Awaitable[None]], impl: Any) -> Callable[[], Awaitable[None]]:
    return lambda: run(impl)


async def run_size(fleet: Fleet, count: int, repeat: int, payload: Path, workdir: Path) -> None:
    ours = Kubexms(subset_cluster(fleet, count, workdir))
    base = Baseline(fleet, count)
    scenarios: list[tuple[str, Callable[[Any], Awaitable[None]]]] = [
        ("a) uname -a on all hosts", lambda impl: impl.uname()),
        (f"b) {SEQUENTIAL_COMMANDS} sequential commands per host", lambda impl: impl.sequential()),
    ]
    print(f"\n{count} hosts (median of {repeat}; wall seconds, client CPU seconds)")
    print(f"{'scenario':40} {'kubexms':>16} {'asyncssh':>16} {'ratio':>7}")
    ratios: list[float] = []

    async def report(label: str, run: Callable[[Any], Awaitable[None]], after: Any) -> None:
        samples: dict[str, list[Sample]] = {"kubexms": [], "asyncssh": []}
        # One unrecorded warm-up round each: first-use costs (imports, key parsing) are not
        # what a fan-out costs.
        for impl in (ours, base):
            await run(impl)
            if after is not None:
                await after()
        for _ in range(repeat):
            for name, impl in (("kubexms", ours), ("asyncssh", base)):
                samples[name].append(await measure(bind(run, impl)))
                if after is not None:
                    await after()
        k = statistics.median(s.wall for s in samples["kubexms"])
        b = statistics.median(s.wall for s in samples["asyncssh"])
        kc = statistics.median(s.cpu for s in samples["kubexms"])
        bc = statistics.median(s.cpu for s in samples["asyncssh"])
        ratios.append(k / b)
        print(f"{label:40} {k:7.2f}s {kc:6.2f}cpu {b:7.2f}s {bc:6.2f}cpu {k / b:7.2f}")

    for label, run in scenarios:
        await report(label, run, None)
    remote = f"/tmp/kxms-bench-{secrets.token_hex(4)}.bin"
    await report(
        f"c) {UPLOAD_MIB} MiB upload to all hosts",
        lambda impl: impl.upload(payload, remote),
        lambda: cleanup(fleet, count, remote),
    )
    verdict = "OK" if max(ratios) <= 1.3 else "ABOVE TARGET"
    print(f"worst ratio {max(ratios):.2f} (target <= 1.30): {verdict}")


BARE_SCRIPT = """
import asyncio, sys
import asyncssh

async def main(key_path, known_hosts_path, addresses):
    key = asyncssh.read_private_key(key_path)
    known = asyncssh.read_known_hosts(known_hosts_path)
    handshakes = asyncio.Semaphore(64)

    async def one(address):
        async with handshakes:
            conn = await asyncssh.connect(
                address, username="root", client_keys=[key], known_hosts=known, agent_path=None
            )
        async with conn:
            return address, (await conn.run("uname -a", check=True)).stdout

    for address, out in await asyncio.gather(*(one(a) for a in addresses)):
        sys.stdout.write(f"{address}: {out}")

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
"""


def kubexms_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m kubexms``."""
    script = Path(sys.executable).parent / "kubexms"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kubexms"]


def installed_like_env() -> dict[str, str]:
    """The environment for both processes, with bytecode caches as an installed package has.

    pip compiles a wheel's modules on install; a shell with PYTHONDONTWRITEBYTECODE set would
    otherwise make every run compile kubexms from source, a cost no user pays.
    """
    import compileall

    import kubexms

    compileall.compile_dir(str(Path(kubexms.__file__).parent), quiet=1)
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_process(argv: list[str], env: dict[str, str]) -> Sample:
    """Run ``argv`` to completion; its wall time and the CPU the kernel charged it."""
    wall = time.monotonic()
    pid = os.posix_spawn(argv[0], argv, env)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.monotonic() - wall
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv[:4])} ... exited {os.waitstatus_to_exitcode(status)}")
    return Sample(elapsed, usage.ru_utime + usage.ru_stime)


def run_processes(fleet: Fleet, count: int, repeat: int, workdir: Path) -> float:
    cluster = subset_cluster(fleet, count, workdir)
    script = workdir / "bare_asyncssh_uname.py"
    script.write_text(BARE_SCRIPT)
    addresses = [host.address for host in fleet.hosts[:count]]
    silent = ["/bin/sh", "-c", 'exec "$@" >/dev/null 2>&1', "sh"]  # exit codes are checked
    ours = [*silent, *kubexms_command(), "exec", "-f", str(cluster), "--", "uname", "-a"]
    bare = [
        *silent,
        sys.executable,
        str(script),
        str(fleet.private_key_path),
        str(fleet.known_hosts_path),
        *addresses,
    ]
    env = installed_like_env()
    samples: dict[str, list[Sample]] = {"kubexms": [], "asyncssh": []}
    run_process(ours, env)  # warm-up: page cache, .pyc files
    run_process(bare, env)
    for _ in range(repeat):
        samples["kubexms"].append(run_process(ours, env))
        samples["asyncssh"].append(run_process(bare, env))
    k = statistics.median(s.wall for s in samples["kubexms"])
    b = statistics.median(s.wall for s in samples["asyncssh"])
    kc = statistics.median(s.cpu for s in samples["kubexms"])
    bc = statistics.median(s.cpu for s in samples["asyncssh"])
    label = f"{count} hosts: exec -- uname -a (process)"
    print(f"{label:40} {k:7.2f}s {kc:6.2f}cpu {b:7.2f}s {bc:6.2f}cpu {k / b:7.2f}")
    return k / b


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fleet-dir", type=Path, help="use this running fleet")
    parser.add_argument(
        "--process",
        action="store_true",
        help="whole processes: `kubexms exec -- uname -a` against a bare asyncssh script",
    )
    args = parser.parse_args()
    if os.geteuid() != 0 and args.fleet_dir is None:
        print("the benchmark starts a simulated fleet, which needs root", file=sys.stderr)
        return 2
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(40)  # errors only
    )
    with tempfile.TemporaryDirectory(prefix="kxms-bench-") as tmp:
        workdir = Path(tmp)
        payload = workdir / "payload.bin"
        if not args.process:
            payload.write_bytes(os.urandom(UPLOAD_MIB * 1024 * 1024))
        own = args.fleet_dir is None
        directory = workdir / "fleet" if own else args.fleet_dir
        fleet = await fleet_up(max(args.hosts), directory) if own else load_fleet(directory)
        try:
            if len(fleet.hosts) < max(args.hosts):
                print(f"the fleet has only {len(fleet.hosts)} hosts", file=sys.stderr)
                return 2
            if args.process:
                print(f"median of {args.repeat}; wall seconds, CPU seconds (user + system)")
                print(f"{'scenario':40} {'kubexms':>16} {'asyncssh':>16} {'ratio':>7}")
                ratios = [
                    await asyncio.to_thread(run_processes, fleet, n, args.repeat, workdir)
                    for n in args.hosts
                ]
                verdict = "OK" if max(ratios) <= 1.3 else "ABOVE TARGET"
                print(f"worst ratio {max(ratios):.2f} (target <= 1.30): {verdict}")
                return 0
            for count in args.hosts:
                await run_size(fleet, count, args.repeat, payload, workdir)
        finally:
            if own:
                await fleet_down(directory)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
