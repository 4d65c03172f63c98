"""The fault matrix of `kubexms init os` (fleet tier): one fault per case, on one host.

Every case starts from a victim host lacking two of the offline packages (so its package step
has real work; the other hosts are prepared and go through every step too), starts `init os`,
waits until the victim's package step has begun and injects the fault. Then, for each case:

- the run ends within the case's bound (no hang), with the exit code the fault calls for;
- the error names the victim and the cause; the other hosts have no error;
- the run is continued the way its own message says (``--resume``, plus ``--break-lock``
  when a lock stayed behind), and completes;
- a final rerun changes nothing;
- nothing is left half-done on any host: ``dpkg --audit`` is empty, no temporary files of
  the case's runs, no lock and no process-group log in /run/lock.

The hosts use short SSH keepalives (2 s x 2) and a 3 s stop grace, so a silent host fails in
seconds. Bounds are generous: the machine running the tier may be heavily loaded.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from kubexms.sandbox import Fleet
from tests.event_log import events
from tests.killed_run import finish_within, run_ids
from tests.leasing import PACKAGES_INSTALLED, HostPool

pytestmark = pytest.mark.fleet

PACKAGES = ["conntrack", "socat", "ipset", "ebtables", "ethtool", "iptables"]
RUN_TIMEOUT = 900.0


def leftovers(work: Path) -> str:
    """What a host must not keep: the temporary directories of this test's runs (only those: a
    host's /var shows this machine's through its overlay, where the other pytest-xdist worker's
    local runs come and go), old-style temporary files, a lock or process-group log."""
    run_dirs = " ".join(f"/var/tmp/kubexms/run-{run_id}" for run_id in run_ids(work))
    return (
        f"ls -d {run_dirs} /var/tmp/kubexms-packages-* /tmp/kubexms-write.* "
        "/run/lock/kubexms.lock* 2>/dev/null || true"
    )


@dataclass
class InitOS:
    fleet: Fleet
    hosts: list[str]
    cluster: Path
    work: Path
    debs: Path
    installed_here: list[str] = field(default_factory=list)  # packages the run installs

    def args(self, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "kubexms",
            "init",
            "os",
            "-f",
            str(self.cluster),
            "--download-packages",
            "--packages-dir",
            str(self.debs),
            "--timezone",
            "UTC",
            "-o",
            "json",
            *extra,
        ]

    async def start(self, *extra: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self.args(*extra), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )

    async def run(self, *extra: str) -> tuple[int, str, str]:
        return await finish(await self.start(*extra))

    async def on(self, host: str, command: str) -> str:
        code, out, err = await self.fleet.host_exec(host, command)
        assert code == 0, f"{host}: {command!r} exited {code}: {err}"
        return out

    def logs(self) -> set[Path]:
        return set((self.work / "runs").glob("*.jsonl"))

    async def reset(self) -> None:
        """Give the victim's package step work again: purge two of the packages init os
        installs there (enough for a step that is under way when the fault comes, and quick to
        redo). The fault is the victim's: the other hosts' package steps have nothing to do,
        which keeps each case's dpkg work to one host (a third of it, on a 2-core machine)."""
        names = " ".join(self.installed_here[:2])
        await self.on(self.hosts[1], f"dpkg --purge {names} >/dev/null 2>&1 || true")
        for host in self.hosts:
            # A case that failed may have left its lock: the next case starts clean (each
            # case checks for stale locks itself, at its end).
            await self.on(host, "rm -f /run/lock/kubexms.lock*")


async def finish(
    process: asyncio.subprocess.Process, bound: float = RUN_TIMEOUT
) -> tuple[int, str, str]:
    """:func:`tests.killed_run.finish` with the tier's bound for a whole run."""
    return await finish_within(process, bound)


def missing_on_this_machine() -> list[str]:
    """The packages init os installs that this machine (so a fresh host) does not have."""
    status = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\\n", *PACKAGES],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    present = {line.split()[0] for line in status.splitlines() if " ii" in line}
    return [name for name in PACKAGES if name not in present]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def init_os(
    fleet_pool: HostPool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[InitOS]:
    # Hosts an earlier module already gave init os's packages: the first run below then
    # installs nothing (each case purges what it needs on its victim).
    with fleet_pool.lease(3, init="systemd", holder=__name__, prefer=PACKAGES_INSTALLED) as leased:
        directory = tmp_path_factory.mktemp("init-os-faults")
        names = leased.names

        def shape(document: dict[str, Any]) -> None:
            document["metadata"]["name"] = "init-os-faults"
            document["spec"]["roleGroups"] = {
                "master": names[:1],
                "etcd": names[:1],
                "worker": names[1:],
            }
            settings = document["spec"]["global"]
            settings["workDir"] = str(directory / "work")
            settings["keepaliveInterval"] = 2
            settings["keepaliveCountMax"] = 2
            settings["stopGrace"] = 3

        cluster = leased.cluster_file(directory, edit=shape, name="cluster.yaml")
        # The session's packages directory: downloaded once for every module that needs them.
        debs = fleet_pool.packages_dir
        made = InitOS(leased.fleet, names, cluster, directory / "work", debs)
        # What a fresh host lacks is what this machine lacks (hosts see its /usr and /var
        # under their own copy-on-write layer).
        made.installed_here = missing_on_this_machine()
        assert made.installed_here, "this machine has every package init os installs"
        # Every host prepared (and the packages downloaded once, for every case).
        code, _, err = await made.run()
        assert code == 0, err
        yield made


# --- faults: each injects on the victim and returns how to undo it -----------------------

Undo = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Fault:
    """One row of the matrix."""

    name: str
    bound: float  # seconds from injection to the end of the run
    exit_codes: tuple[int, ...]  # what the run may exit with
    cause: str  # a regex the victim's error (or the run's message) must match; "" for none
    on_host: bool = True  # the failure is the victim's alone (else the whole run stops)
    # A host lost for good: its error starts with how the connection was lost (the first
    # error, not a later reconnect's), and it fails within two keepalive windows of going
    # silent (plus the retry's backoff of at most a second and this machine's load).
    lost: bool = False
    says: str = ""  # a regex every error of a lost host matches (how it was lost)


async def sshd_stopped(ctx: InitOS, victim: str, run: asyncio.subprocess.Process) -> Undo:
    # Stop sshd and end the sessions it already serves (ssh.service keeps them otherwise).
    await ctx.on(victim, "systemctl stop ssh && loginctl terminate-user root")

    async def undo() -> None:
        await ctx.on(victim, "systemctl start ssh")

    return undo


async def sshd_killed_and_restarted(
    ctx: InitOS, victim: str, run: asyncio.subprocess.Process
) -> Undo:
    # Every sshd of the host (the listener and the sessions serving the run) dies at once;
    # the commands they ran lose their pipes. sshd is started again right away.
    await ctx.on(victim, "kill -KILL $(pidof sshd) && systemctl restart ssh")

    async def undo() -> None:
        return None

    return undo


def link_down(seconds: float | None) -> Callable[..., Awaitable[Undo]]:
    async def inject(ctx: InitOS, victim: str, run: asyncio.subprocess.Process) -> Undo:
        await ctx.on(victim, "ip link set eth0 down")
        back = None
        if seconds is not None:

            async def up_later() -> None:
                await asyncio.sleep(seconds)
                await ctx.on(victim, "ip link set eth0 up")

            back = asyncio.ensure_future(up_later())

        async def undo() -> None:
            if back is not None:
                await back
            else:
                await ctx.on(victim, "ip link set eth0 up")

        return undo

    return inject


async def packets_dropped(ctx: InitOS, victim: str, run: asyncio.subprocess.Process) -> Undo:
    rule = "INPUT -p tcp --dport 22 -j DROP"
    await ctx.on(victim, f"iptables -I {rule}")

    async def undo() -> None:
        await ctx.on(victim, f"iptables -D {rule}")

    return undo


def signalled(signum: int) -> Callable[..., Awaitable[Undo]]:
    async def inject(ctx: InitOS, victim: str, run: asyncio.subprocess.Process) -> Undo:
        run.send_signal(signum)

        async def undo() -> None:
            return None

        return undo

    return inject


HOST_LOST = r"connection|unreachable|timed out|closed|lost|reset|refused"
KEEPALIVE_WINDOW = 2 * (2 + 1)  # keepaliveInterval x (keepaliveCountMax + 1), as set below
# "<node>: [<host>: ]<first error>[; it did not come back (<the reconnect's error>)]"
FIRST_ERROR = (
    r"^\S+: (\S+: )?(the connection to \S+ (was lost|was closed|dropped while a command ran)"
    r"|\S+ (closed|reset) the connection)"
)
FAULTS: list[tuple[Fault, Callable[..., Awaitable[Undo]]]] = [
    (Fault("sshd stopped", 240, (1,), HOST_LOST, lost=True), sshd_stopped),
    (Fault("sshd killed and restarted", 240, (0, 1), HOST_LOST), sshd_killed_and_restarted),
    (Fault("link down 20 s", 240, (0, 1), HOST_LOST), link_down(20)),
    (
        Fault("link down for good", 240, (1,), HOST_LOST, lost=True, says="keepalive"),
        link_down(None),
    ),
    (Fault("packets dropped", 240, (1,), HOST_LOST, lost=True, says="keepalive"), packets_dropped),
    (Fault("SIGKILL", 30, (-signal.SIGKILL,), "", on_host=False), signalled(signal.SIGKILL)),
    (
        Fault("SIGTERM", 60, (143,), "interrupted by SIGTERM", on_host=False),
        signalled(signal.SIGTERM),
    ),
    (Fault("SIGINT", 60, (130,), "interrupted by SIGINT", on_host=False), signalled(signal.SIGINT)),
]


async def wait_for(probe: Callable[[], Awaitable[bool]], what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def continue_as_told(ctx: InitOS, message: str) -> None:
    """Resume the way the failed run's message says; a refusal's advice is followed once."""
    extra = ["--resume"]
    if "--break-lock" in message:
        extra.append("--break-lock")
    code, out, err = await ctx.run(*extra)
    if code != 0 and "--break-lock" in err and "--break-lock" not in extra:
        # A run killed outright says nothing: the refusal of --resume says what to do.
        assert "locked by" in err, err
        code, out, err = await ctx.run("--resume", "--break-lock")
    assert code == 0, f"resume failed: {err}"
    assert json.loads(out)["outcome"] == "succeeded"


async def assert_settled(ctx: InitOS) -> None:
    """A rerun changes nothing, and nothing is left half done or behind on any host."""
    code, out, err = await ctx.run()
    assert code == 0, err
    document = json.loads(out)
    for host in ctx.hosts:
        assert document["hosts"][host]["changed"] == 0, document["hosts"][host]
        assert (await ctx.on(host, "dpkg --audit")).strip() == "", host
        left = (await ctx.on(host, leftovers(ctx.work))).strip()
        if left:  # say when each was written and which runs there were, to find its origin
            found = await ctx.on(host, "date +%T; find /var/tmp/kubexms -printf '%p %TT\\n'")
            runs = sorted(path.name for path in (ctx.work / "runs").glob("*.jsonl"))
            raise AssertionError(f"{host} keeps {left}:\n{found}runs: {runs}")
        status = await ctx.on(
            host, "dpkg-query -W -f='${db:Status-Abbrev}\\n' " + " ".join(ctx.installed_here)
        )
        assert all(line.startswith("ii") for line in status.split()), (host, status)


async def start_and_reach_package_step(
    ctx: InitOS, victim: str
) -> tuple[asyncio.subprocess.Process, Callable[[], Path | None]]:
    before = ctx.logs()
    run = await ctx.start()

    def log() -> Path | None:
        new = ctx.logs() - before
        return next(iter(new)) if new else None

    async def package_step_begun() -> bool:
        path = log()
        if path is None:
            return run.returncode is not None
        return any(
            e["event"] == "started" and e.get("host") == victim and "/packages" in e.get("node", "")
            for e in events(path)
        )

    await wait_for(package_step_begun, f"the package step on {victim}")
    assert run.returncode is None, "the run ended before the package step"
    return run, log


@pytest.mark.parametrize(("fault", "inject"), FAULTS, ids=[fault.name for fault, _ in FAULTS])
async def test_fault_during_the_package_step(
    init_os: InitOS, fault: Fault, inject: Callable[..., Awaitable[Undo]]
) -> None:
    victim = init_os.hosts[1]
    await init_os.reset()
    run, log = await start_and_reach_package_step(init_os, victim)
    injected, injected_at = time.monotonic(), time.time()
    undo = await inject(init_os, victim, run)
    try:
        code, out, err = await finish(run, fault.bound)
    finally:
        await undo()
    took = time.monotonic() - injected
    print(f"\nFAULT {fault.name}: exit {code} after {took:.1f} s\n{err.strip()[-600:]}")
    assert code in fault.exit_codes, (code, err)
    assert took < fault.bound
    if code == 0:  # the retry got through (the host came back in time)
        await assert_settled(init_os)
        return
    if fault.on_host:
        document = json.loads(out)
        assert document["failed_hosts"] == [victim], document
        errors = " ".join(map(str, document["hosts"][victim]["errors"]))
        assert re.search(fault.cause, errors, re.IGNORECASE), errors
        for other in init_os.hosts:
            if other != victim:
                assert document["hosts"][other]["errors"] == [], document["hosts"][other]
        assert victim in err
        if fault.lost:
            for error in document["hosts"][victim]["errors"]:
                assert re.search(FIRST_ERROR, str(error)), error
                assert re.search(fault.says, str(error)), error
            path = log()
            assert path is not None
            failed = min(
                e["time"]
                for e in events(path)
                if e["event"] == "failed" and e.get("host") == victim
            )
            print(f"{victim} failed {failed - injected_at:.1f} s after the fault")
            assert failed - injected_at < 2 * KEEPALIVE_WINDOW + 3, failed - injected_at
    elif fault.cause:
        assert re.search(fault.cause, err), err
    await continue_as_told(init_os, err)
    await assert_settled(init_os)


async def test_full_upload_directory_says_so_and_resume_finishes(init_os: InitOS) -> None:
    victim = init_os.hosts[1]
    await init_os.reset()
    # A tiny tmpfs over the directory runs put their temporary files in.
    await init_os.on(
        victim, "mkdir -p /var/tmp/kubexms && mount -t tmpfs -o size=64k kx /var/tmp/kubexms"
    )
    try:
        started = time.monotonic()
        code, out, err = await init_os.run()
    finally:
        await init_os.on(victim, "umount /var/tmp/kubexms")
    took = time.monotonic() - started
    print(f"\nFAULT upload dir full: exit {code} after {took:.1f} s\n{err[-600:]}")
    assert code == 1, err
    document = json.loads(out)
    assert document["failed_hosts"] == [victim]
    errors = " ".join(map(str, document["hosts"][victim]["errors"]))
    assert re.search(r"no space left on /var/tmp/kubexms/run-\w+ \(.* free, .* needed\)", errors), (
        errors
    )
    await continue_as_told(init_os, err)
    await assert_settled(init_os)


async def test_two_runs_at_once_one_proceeds(init_os: InitOS) -> None:
    await init_os.reset()
    first, second = await asyncio.gather(init_os.start(), init_os.start())
    (code1, _, err1), (code2, _, err2) = await asyncio.gather(finish(first), finish(second))
    codes = sorted([code1, code2])
    assert codes == [0, 1], (err1, err2)
    loser_err = err1 if code1 == 1 else err2
    assert "locked by another run" in loser_err
    await assert_settled(init_os)


async def test_a_resumed_package_step_reports_its_repair(init_os: InitOS) -> None:
    # A package left unpacked but not configured (what a KILL mid-dpkg leaves): the next
    # run configures it and says so, rather than "unchanged".
    victim = init_os.hosts[1]
    await init_os.reset()
    name = init_os.installed_here[0]
    deb = next(init_os.debs.rglob(f"{name}_*.deb"))
    code, _, err = await init_os.fleet.host_exec(
        victim, f"cat > /tmp/{deb.name}", stdin=deb.read_bytes()
    )
    assert code == 0, err
    await init_os.on(victim, f"dpkg --unpack /tmp/{deb.name} >/dev/null && rm /tmp/{deb.name}")
    assert (
        await init_os.on(victim, f"dpkg-query -W -f='${{db:Status-Abbrev}}' {name}")
    ).startswith("iU")
    before = init_os.logs()
    code, _, err = await init_os.run()
    assert code == 0, err
    (log,) = init_os.logs() - before
    changes = [
        e
        for e in events(log)
        if e["event"] == "changed" and e.get("host") == victim and "/packages" in e.get("node", "")
    ]
    assert changes, "the package step did not report a change"
    assert f"configured {name}" in json.dumps(changes)
    await assert_settled(init_os)


class DelayingProxy:
    """A TCP proxy on loopback to one fleet address that, once ``delay`` is set, holds every
    chunk that passes for that many seconds in each direction (netem is not in this kernel)."""

    def __init__(self, target: str, port: int = 22) -> None:
        self.target, self.target_port = target, port
        self.delay = 0.0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> DelayingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target, self.target_port)
        except OSError:
            writer.close()
            return
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pump(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if due > loop.time():
                    await asyncio.sleep(due - loop.time())
                if not data:
                    break
                sink.write(data)
                await sink.drain()

        delivering = asyncio.ensure_future(deliver())
        try:
            while data := await source.read(65536):
                queue.put_nowait((loop.time() + self.delay, data))
            queue.put_nowait((loop.time() + self.delay, b""))
            await delivering
        except (ConnectionError, OSError):
            pass
        finally:
            delivering.cancel()
            sink.close()


def proxied_cluster(cluster: Path, victim: str, address: str, port: int, directory: Path) -> Path:
    """``cluster`` with ``victim`` reached through the proxy on 127.0.0.1:``port`` (its host
    key recorded for that address too); its internal address stays ``address``."""
    document = yaml.safe_load(cluster.read_text())
    known = Path(document["spec"]["global"]["knownHostsPath"])
    key = next(
        line.split(None, 1)[1]
        for line in known.read_text().splitlines()
        if line.split(None, 1)[0].split(",")[0] == victim
    )
    proxied_known = directory / "known_hosts"
    proxied_known.write_text(known.read_text() + f"[127.0.0.1]:{port} {key}\n")
    document["spec"]["global"]["knownHostsPath"] = str(proxied_known)
    for entry in document["spec"]["hosts"]:
        if entry["name"] == victim:
            entry.update(address="127.0.0.1", port=port, internalAddress=address)
    path = directory / "cluster.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


async def test_300_ms_of_latency_mid_run_slows_it_and_breaks_nothing(
    init_os: InitOS, tmp_path: Path
) -> None:
    victim = init_os.hosts[1]
    address = init_os.fleet.host(victim).address
    await init_os.reset()
    async with DelayingProxy(address) as proxy:
        cluster = proxied_cluster(init_os.cluster, victim, address, proxy.port, tmp_path)
        proxied = replace(init_os, cluster=cluster)
        run, _ = await start_and_reach_package_step(proxied, victim)
        proxy.delay = 0.3  # 300 ms each way from here on, while the package step runs
        started = time.monotonic()
        code, out, err = await finish(run, 600)
        print(f"\nFAULT 300 ms latency: exit {code} after {time.monotonic() - started:.1f} s")
        assert code == 0, err
        assert json.loads(out)["outcome"] == "succeeded"
        # What the slow run left is checked at full speed: the latency was the fault, and a
        # rerun through it (hundreds of round trips of 600 ms) would check nothing more.
        proxy.delay = 0.0
        await assert_settled(proxied)


async def test_full_package_database_says_so_and_resume_finishes(init_os: InitOS) -> None:
    victim = init_os.hosts[1]
    await init_os.reset()
    # The package database on a filesystem with 16 KiB to spare: dpkg runs out of space
    # while it records the packages it installs. Freeing the space is copying the database
    # back where it was (what the host's dpkg wrote meanwhile included).
    await init_os.on(
        victim,
        "used=$(du -sk /var/lib/dpkg | cut -f1) && mkdir -p /run/kx-dpkg"
        " && mount -t tmpfs -o size=$((used + 16))k kx-dpkg /run/kx-dpkg"
        " && cp -a /var/lib/dpkg/. /run/kx-dpkg/ && mount --bind /run/kx-dpkg /var/lib/dpkg",
    )
    try:
        started = time.monotonic()
        code, out, err = await init_os.run()
    finally:
        await init_os.on(
            victim,
            "umount /var/lib/dpkg && find /var/lib/dpkg -mindepth 1 -delete"
            " && cp -a /run/kx-dpkg/. /var/lib/dpkg/ && umount /run/kx-dpkg",
        )
    took = time.monotonic() - started
    print(f"\nFAULT package database full: exit {code} after {took:.1f} s\n{err[-600:]}")
    assert code == 1, err
    document = json.loads(out)
    assert document["failed_hosts"] == [victim]
    errors = " ".join(map(str, document["hosts"][victim]["errors"]))
    assert re.search(r"no space left on device", errors, re.IGNORECASE), errors
    for other in init_os.hosts:
        if other != victim:
            assert document["hosts"][other]["errors"] == [], document["hosts"][other]
    await continue_as_told(init_os, err)
    await assert_settled(init_os)
