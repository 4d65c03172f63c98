"""kubexms.sandbox: the simulated fleet, checked from the machine, over SSH and inside its hosts."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import pytest_asyncio
import yaml

from kubexms.sandbox import (
    Fleet,
    FleetHost,
    InitKind,
    SandboxError,
    fleet_down,
    fleet_status,
    fleet_up,
    load_fleet,
)
from kubexms.sandbox import _fleet as fleet_internals
from kubexms.sandbox._cluster_file import role_groups
from tests.leasing import LeaseHosts

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="the simulated fleet needs root")
KINDS: list[InitKind] = ["systemd", "minimal"]
INOTIFY_SHARES = "/run/kubexms/sandbox-inotify.json"


# --- what the machine looks like, to compare before, during and after a fleet -------------


@dataclass(frozen=True)
class Machine:
    netns: frozenset[str]
    links: frozenset[str]
    mounts: frozenset[str]
    unreachable_routes: frozenset[str]
    inotify_instances: int


def _lines(*argv: str) -> list[str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return [line for line in done.stdout.splitlines() if line.strip()]


def look_at_machine() -> Machine:
    links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, check=True).stdout)
    routes = _lines("ip", "-4", "route", "show", "type", "unreachable")
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return Machine(
        netns=frozenset(line.split()[0] for line in _lines("ip", "netns", "list")),
        links=frozenset(str(link["ifname"]) for link in links),
        mounts=frozenset(mounts),
        unreachable_routes=frozenset(line.split()[1] for line in routes),
        inotify_instances=int(Path("/proc/sys/fs/inotify/max_user_instances").read_text()),
    )


def fresh_mounts(before: Machine, now: Machine, scratch: Path, netns: set[str]) -> set[str]:
    """Mounts that appeared since ``before`` and could be this test's fleet's.

    Other fleets on the machine (another test session, a ``kubexms sandbox up`` by hand) add
    and remove their own network namespaces' mounts and directories under /tmp meanwhile;
    those are not this test's to judge.
    """
    ours = str(scratch)

    def foreign(mount: str) -> bool:
        if mount.startswith("/run/netns/"):
            return mount.removeprefix("/run/netns/") not in netns
        return mount.startswith("/tmp/") and not mount.startswith(ours)

    return {mount for mount in now.mounts - before.mounts if not foreign(mount)}


def _processes() -> Iterator[tuple[int, int]]:
    """(pid, start time) of every process on the machine that has not exited (no zombies)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat_line = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat_line[stat_line.rindex(")") + 2 :].split()
            if fields[0] != "Z":
                yield int(entry.name), int(fields[19])


def processes_in_pid_namespace_of(pid: int) -> set[tuple[int, int]]:
    """Every process (pid, start time) sharing the PID namespace of ``pid``."""
    namespace = os.readlink(f"/proc/{pid}/ns/pid")
    found: set[tuple[int, int]] = set()
    for process, started in _processes():
        try:
            if os.readlink(f"/proc/{process}/ns/pid") == namespace:
                found.add((process, started))
        except OSError:
            continue
    return found


def processes_using(directory: Path) -> list[int]:
    """PIDs whose command line, root or working directory lies in ``directory``."""
    needle = str(directory)
    users: list[int] = []
    for process, _ in _processes():
        try:
            cmdline = Path(f"/proc/{process}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            places = [os.readlink(f"/proc/{process}/{link}") for link in ("root", "cwd")]
        except OSError:
            continue
        if needle in cmdline or any(place.startswith(needle) for place in places):
            users.append(process)
    return users


def inotify_shares() -> dict[str, Any]:
    """The machine-wide record of fleets' inotify shares ({} when no fleet holds one)."""
    try:
        data: dict[str, Any] = json.loads(Path(INOTIFY_SHARES).read_text())
    except FileNotFoundError:
        return {}
    return data


def exists(path: str | Path) -> bool:
    return os.path.lexists(path)


def read_text(path: str | Path) -> str:
    return Path(path).read_text()


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def still_running(processes: set[tuple[int, int]]) -> set[tuple[int, int]]:
    return processes & set(_processes())


# --- helpers to reach hosts -----------------------------------------------------------------


async def ssh(
    fleet: Fleet, host: FleetHost, user: str, **auth: Any
) -> asyncssh.SSHClientConnection:
    """An asyncssh connection checked against the fleet's known_hosts; the fleet key unless
    ``auth`` says otherwise."""
    options: dict[str, Any] = {"client_keys": [str(fleet.private_key_path)], **auth}
    return await asyncssh.connect(
        host.address,
        username=user,
        known_hosts=str(fleet.known_hosts_path),
        agent_path=None,
        config=None,
        connect_timeout=20,
        **options,
    )


async def must(fleet: Fleet, host: str, command: str) -> str:
    code, out, err = await fleet.host_exec(host, command)
    assert code == 0, f"{command!r} on {host} exited {code}: {err}"
    return out


def kubexms(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubexms", *args], capture_output=True, text=True, timeout=300
    )


# --- the session fleet ----------------------------------------------------------------------


async def test_every_host_has_its_own_hostname_address_and_init(fleet: Fleet) -> None:
    names = [host.name for host in fleet.hosts]
    width = max(2, len(str(len(names))))
    assert names == [f"node{i:0{width}d}" for i in range(1, len(names) + 1)]
    assert len({host.address for host in fleet.hosts}) == len(names)
    reported = await asyncio.gather(
        *(must(fleet, host.name, "hostname; cat /proc/1/comm") for host in fleet.hosts)
    )
    for host, out in zip(fleet.hosts, reported, strict=True):
        hostname, init = out.split()
        assert hostname == host.name
        assert init == ("systemd" if host.init == "systemd" else "tini")


async def test_a_host_sees_only_its_own_processes(lease: LeaseHosts) -> None:
    hosts = lease(2)
    fleet = hosts.fleet
    a, b = hosts.names
    marker = f"kx{uuid.uuid4().hex[:10]}"
    await must(fleet, b, f"cp /bin/sleep /tmp/{marker} && (/tmp/{marker} 300 >/dev/null 2>&1 &)")
    try:
        assert marker in await must(fleet, b, "ps -eo comm")
        seen_from_a = await must(fleet, a, "ps -eo comm,args")
        assert marker not in seen_from_a
        # Nor does a host see the machine's processes, this test run included.
        assert "pytest" not in seen_from_a
        assert (await fleet.host_exec(a, f"test -e /tmp/{marker}"))[0] != 0
    finally:
        await fleet.host_exec(b, f"pkill -x {marker}; rm -f /tmp/{marker}")


@pytest.mark.parametrize("layer", ["/etc", "/var/lib", "/usr/local/bin", "/opt", "/srv"])
async def test_writes_to_a_layer_stay_in_that_host(lease: LeaseHosts, layer: str) -> None:
    hosts = lease(2)
    fleet = hosts.fleet
    a, b = hosts.names
    path = f"{layer}/kubexms-sandbox-{uuid.uuid4().hex[:8]}"
    await must(fleet, a, f"echo private > {path}")
    try:
        assert (await must(fleet, a, f"cat {path}")).strip() == "private"
        code, _, _ = await fleet.host_exec(b, f"test -e {path}")
        assert code != 0
        assert not exists(path), "the write reached the machine"
    finally:
        await fleet.host_exec(a, f"rm -f {path}")


async def test_root_and_home_are_clean_and_tmp_run_are_fresh(lease: LeaseHosts) -> None:
    hosts = lease(1)
    fleet, host = hosts.fleet, hosts[0].name
    machine_only = set(os.listdir("/root")) - {
        ".bashrc",
        ".profile",
        ".bash_logout",
        ".ssh",
        ".cache",
    }
    in_root = set((await must(fleet, host, "ls -A /root")).split())
    assert ".ssh" in in_root
    assert not (machine_only & in_root)
    assert set((await must(fleet, host, "ls -A /home")).split()) == {"ops", "deployer"}
    for place in ("/tmp", "/run"):
        fstype = (await must(fleet, host, f"findmnt -no FSTYPE {place}")).strip()
        assert fstype == "tmpfs"
    # No manual-page index rebuilt after every package transaction on a simulated host.
    assert "auto-update" not in (await must(fleet, host, "ls -A /var/lib/man-db")).split()


@pytest.mark.parametrize("directory", ["/var/lib/containerd", "/var/lib/kubelet"])
async def test_container_dirs_are_on_disk_where_overlayfs_mounts(
    lease: LeaseHosts, directory: str
) -> None:
    hosts = lease(2)
    fleet = hosts.fleet
    a, b = hosts.names
    fstype = (await must(fleet, a, f"findmnt -no FSTYPE --target {directory}")).strip()
    assert fstype not in ("overlay", ""), f"{directory} is on {fstype!r}"
    # What containerd's snapshotter does: an overlay whose layers sit in that directory.
    probe = f"{directory}/kubexms-probe-{uuid.uuid4().hex[:8]}"
    script = (
        f"mkdir -p {probe}/lower {probe}/upper {probe}/work {probe}/merged"
        f" && echo layer > {probe}/lower/file"
        f" && mount -t overlay overlay -o lowerdir={probe}/lower,upperdir={probe}/upper,"
        f"workdir={probe}/work {probe}/merged"
        f" && cat {probe}/merged/file && umount {probe}/merged"
    )
    try:
        assert (await must(fleet, a, script)).strip() == "layer"
        # Each host has its own.
        assert (await fleet.host_exec(b, f"test -e {probe}"))[0] != 0
    finally:
        await fleet.host_exec(a, f"umount {probe}/merged 2>/dev/null; rm -rf {probe}")


async def test_proc_sys_is_read_only_except_net(lease: LeaseHosts) -> None:
    hosts = lease(1)
    fleet, host = hosts.fleet, hosts[0].name
    # Write back the current value: even if it were writable, nothing would change.
    code, _, err = await fleet.host_exec(
        host, "cat /proc/sys/kernel/panic > /tmp/v && cat /tmp/v > /proc/sys/kernel/panic"
    )
    assert code != 0
    assert "Read-only file system" in err
    await must(
        fleet,
        host,
        "cat /proc/sys/net/ipv4/tcp_keepalive_time > /tmp/v "
        "&& cat /tmp/v > /proc/sys/net/ipv4/tcp_keepalive_time",
    )


async def test_hosts_have_no_route_beyond_the_fleet(fleet: Fleet) -> None:
    outputs = await asyncio.gather(
        *(
            fleet.host_exec(host.name, "ip -4 route show default; ip -4 route get 192.0.2.10")
            for host in fleet.hosts
        )
    )
    for host, (code, out, err) in zip(fleet.hosts, outputs, strict=True):
        assert out.strip() == "", f"{host.name} has a route: {out}"
        assert code != 0
        assert "unreachable" in err.lower()
    state = read_json(fleet.directory / "fleet.json")
    forwarding = read_text(f"/proc/sys/net/ipv4/conf/{state['bridge']}/forwarding")
    assert forwarding.strip() == "0", f"the bridge of {fleet.subnet} would forward"


async def test_sshd_accepts_the_fleet_key_and_checks_host_keys(
    lease: LeaseHosts, tmp_path: Path
) -> None:
    hosts = lease(1)
    fleet, host = hosts.fleet, hosts[0]
    async with await ssh(fleet, host, "root") as connection:
        result = await connection.run("hostname", check=True)
        assert str(result.stdout).strip() == host.name
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"{host.address} {stranger.export_public_key().decode()}")
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        await asyncssh.connect(
            host.address,
            username="root",
            known_hosts=str(wrong),
            client_keys=[str(fleet.private_key_path)],
            agent_path=None,
            config=None,
        )


@pytest.mark.parametrize("user", ["root", "deployer"])
async def test_password_logins(lease: LeaseHosts, user: str) -> None:
    hosts = lease(1)
    fleet, host = hosts.fleet, hosts[0]
    async with await ssh(fleet, host, user, client_keys=None, password=fleet.password(user)) as c:
        assert str((await c.run("id -un", check=True)).stdout).strip() == user
    with pytest.raises(asyncssh.PermissionDenied):
        await ssh(fleet, host, user, client_keys=None, password="not-" + fleet.password(user))


async def test_ops_sudo_needs_no_password(lease: LeaseHosts) -> None:
    hosts = lease(1)
    async with await ssh(hosts.fleet, hosts[0], "ops") as connection:
        result = await connection.run("sudo -n id -u", check=True)
        assert str(result.stdout).strip() == "0"


async def test_deployer_sudo_requires_its_password_every_time(lease: LeaseHosts) -> None:
    hosts = lease(1)
    password = hosts.fleet.password("deployer")
    async with await ssh(hosts.fleet, hosts[0], "deployer") as connection:
        refused = await connection.run("sudo -n id -u")
        assert refused.exit_status != 0
        assert "password is required" in str(refused.stderr)
        wrong = await connection.run("sudo -S -p '' id -u", input="wrong\n")
        assert wrong.exit_status != 0
        granted = await connection.run("sudo -S -p '' id -u", input=password + "\n")
        assert granted.exit_status == 0, granted.stderr
        assert str(granted.stdout).strip() == "0"
        again = await connection.run("sudo -n id -u")
        assert again.exit_status != 0


async def test_systemctl_answers_on_systemd_hosts(lease: LeaseHosts) -> None:
    hosts = lease(1)
    host = hosts[0]
    async with await ssh(hosts.fleet, host, "root") as connection:
        result = await connection.run("systemctl is-system-running")
        if host.init == "systemd":
            assert str(result.stdout).strip() in ("running", "degraded")
            ssh_state = await connection.run("systemctl show -p ActiveState --value ssh")
            assert str(ssh_state.stdout).strip() == "active"
        else:
            assert result.exit_status != 0
            assert str(result.stdout).strip() == "offline"
            units = await connection.run("systemctl list-units")
            assert "not been booted with systemd" in str(units.stderr)


async def test_host_exec_feeds_stdin_and_kills_a_cancelled_command(lease: LeaseHosts) -> None:
    hosts = lease(1)
    fleet, host = hosts.fleet, hosts[0].name
    code, out, _ = await fleet.host_exec(host, "wc -c", stdin=b"12345")
    assert (code, out.strip()) == (0, "5")
    marker = f"kx{uuid.uuid4().hex[:10]}"
    await must(fleet, host, f"cp /bin/sleep /tmp/{marker}")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(fleet.host_exec(host, f"/tmp/{marker} 300"), 1.0)
    code, out, _ = await fleet.host_exec(host, f"pgrep -x {marker}; rm -f /tmp/{marker}")
    assert out.strip() == "", "the cancelled command still runs in the host"


def test_status_reports_every_host_up(fleet: Fleet) -> None:
    status = fleet_status(fleet.directory)
    assert status.healthy
    assert [(h.name, h.address) for h in status.hosts] == [(h.name, h.address) for h in fleet.hosts]
    assert [h.pid for h in status.hosts] == [h.pid for h in fleet.hosts]
    shown = kubexms("sandbox", "status", "--dir", str(fleet.directory))
    assert shown.returncode == 0, shown.stderr
    for host in fleet.hosts:
        assert host.name in shown.stdout
        assert host.address in shown.stdout


def test_load_fleet_sees_the_same_fleet(fleet: Fleet) -> None:
    again = load_fleet(fleet.directory)
    assert again.hosts == fleet.hosts
    assert again.cluster_file == fleet.cluster_file


def test_fleet_files(fleet: Fleet) -> None:
    document = yaml.safe_load(fleet.cluster_file.read_text())
    assert document["apiVersion"] == "kubexms.io/v1alpha1"
    spec = document["spec"]
    assert [h["name"] for h in spec["hosts"]] == [h.name for h in fleet.hosts]
    assert {h["privateKeyPath"] for h in spec["hosts"]} == {str(fleet.private_key_path)}
    assert spec["global"]["hostKeyPolicy"] == "strict"
    assert spec["global"]["knownHostsPath"] == str(fleet.known_hosts_path)
    assert spec["roleGroups"] == role_groups([h.name for h in fleet.hosts])
    for secret in (fleet.private_key_path, fleet.directory / "fleet.json"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    known = fleet.known_hosts_path.read_text()
    for host in fleet.hosts:
        assert f"{host.name},{host.address} ssh-ed25519 " in known


def test_cluster_file_passes_validation(fleet: Fleet) -> None:
    config = pytest.importorskip("kubexms.config")
    cluster = config.load_config(fleet.cluster_file)
    assert [h.name for h in cluster.resolved_hosts()] == [h.name for h in fleet.hosts]


def test_passwords_appear_in_no_command_line(fleet: Fleet) -> None:
    secrets = [fleet.password("root").encode(), fleet.password("deployer").encode()]
    for process, _ in _processes():
        try:
            cmdline = Path(f"/proc/{process}/cmdline").read_bytes()
        except OSError:
            continue
        assert not any(secret in cmdline for secret in secrets), f"PID {process} shows a password"


async def test_a_second_fleet_in_the_same_directory_is_refused(fleet: Fleet) -> None:
    with pytest.raises(SandboxError, match="already holds a running fleet"):
        await fleet_up(1, fleet.directory)


# --- fleets of their own --------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def scratch(tmp_path: Path) -> AsyncIterator[Path]:
    """A directory for a test's own fleet, taken down whatever the test does."""
    if not ROOT:
        pytest.skip("the simulated fleet needs root")
    directory = tmp_path / "scratch"
    try:
        yield directory
    finally:
        await fleet_down(directory)


@needs_root
@pytest.mark.parametrize("kind", KINDS)
async def test_up_and_down_leave_nothing_behind(scratch: Path, kind: InitKind) -> None:
    before = look_at_machine()
    small = await fleet_up(2, scratch, init=kind)
    state = read_json(scratch / "fleet.json")
    during = look_at_machine()
    shares_during = inotify_shares()

    netns = {host["netns"] for host in state["hosts"]}
    links = {state["bridge"], *(host["veth"] for host in state["hosts"])}
    cgroups = [Path(p) for p in state["cgroups"]]
    assert netns <= during.netns
    assert links <= during.links
    assert state["subnet"] in during.unreachable_routes
    assert all(exists(p) for p in cgroups)
    # Besides the namespaces' own nsfs mounts, host mounts stay inside the hosts.
    allowed = {f"/run/netns/{ns}" for ns in netns} | {"/run/netns"}
    assert fresh_mounts(before, during, scratch, netns) <= allowed
    pids = {(h["launcher"]["pid"], h["launcher"]["start_time"]) for h in state["hosts"]}
    for host in small.hosts:
        pids |= processes_in_pid_namespace_of(host.pid)
        assert (await must(small, host.name, "cat /proc/1/comm")).strip() == (
            "systemd" if kind == "systemd" else "tini"
        )
    async with await ssh(small, small.hosts[1], "root") as connection:
        result = await connection.run("systemctl is-system-running")
        if kind == "systemd":
            assert str(result.stdout).strip() in ("running", "degraded")
        else:
            assert (result.exit_status, str(result.stdout).strip()) == (1, "offline")

    # A host whose sshd is gone shows in the status (a minimal host goes down with it).
    await small.host_exec("node02", "systemctl stop ssh" if kind == "systemd" else "pkill -x sshd")
    await asyncio.sleep(0.5)
    status = fleet_status(scratch)
    assert not status.healthy
    assert status.hosts[0].alive
    assert status.hosts[0].ssh_open
    assert not status.hosts[1].ssh_open
    assert status.hosts[1].alive == (kind == "systemd")

    await fleet_down(scratch)
    after = look_at_machine()
    assert not (netns & after.netns)
    assert not (links & after.links)
    assert state["subnet"] not in after.unreachable_routes
    assert not any(exists(p) for p in cgroups)
    # iproute2 makes /run/netns a mount point of its own on first use and keeps it.
    assert fresh_mounts(before, after, scratch, netns) <= {"/run/netns"}
    # Our share of the raised inotify limit is given back (the limit itself is machine-wide:
    # other fleets change it; tests/unit/sandbox/test_inotify.py pins how shares add up).
    shares_after = inotify_shares()
    assert str(scratch) not in shares_after.get("fleets", {})
    if kind == "systemd":
        assert str(scratch) in shares_during.get("fleets", {})
    assert not still_running(pids)
    assert processes_using(scratch) == []
    assert not exists(scratch)
    await fleet_down(scratch)  # idempotent


@needs_root
async def test_a_failed_start_removes_what_it_made(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = look_at_machine()
    started: list[Any] = []
    made: dict[str, Any] = {}

    async def readiness_fails(directory: Path, state: Any, host: Any, deadline: float) -> None:
        started.append(host.launcher)
        made.update(
            netns={h.netns for h in state.hosts},
            links={state.bridge, *(h.veth for h in state.hosts)},
            subnet=state.subnet,
        )
        raise SandboxError(f"injected failure while waiting for {host.name}")

    monkeypatch.setattr(fleet_internals, "await_ready", readiness_fails)
    with pytest.raises(SandboxError, match="injected failure"):
        await fleet_up(3, scratch, init="minimal")
    assert started, "the hosts were started before the failure"
    after = look_at_machine()
    assert made["links"]
    assert not (made["links"] & after.links)
    assert made["netns"]
    assert not (made["netns"] & after.netns)
    assert made["subnet"] not in after.unreachable_routes
    assert fresh_mounts(before, after, scratch, made["netns"]) <= {"/run/netns"}
    assert not still_running({(r.pid, r.start_time) for r in started})
    assert not exists(scratch / "fleet.json")


@needs_root
async def test_down_cleans_up_after_the_starting_process_was_killed(scratch: Path) -> None:
    before = look_at_machine()
    starter = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import asyncio, pathlib, sys\n"
        "from kubexms.sandbox import fleet_up\n"
        "asyncio.run(fleet_up(4, pathlib.Path(sys.argv[1]), init='systemd'))",
        str(scratch),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        # Kill it once its hosts are launched, in the middle of their boot.
        for _ in range(600):
            if exists(scratch / "fleet.json"):
                hosts = read_json(scratch / "fleet.json")["hosts"]
                if all(host["launcher"] for host in hosts):
                    break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the hosts were never launched")
    finally:
        starter.kill()
        await starter.wait()
    state = read_json(scratch / "fleet.json")
    assert state["phase"] == "starting"
    launchers = {(h["launcher"]["pid"], h["launcher"]["start_time"]) for h in state["hosts"]}

    await fleet_down(scratch)
    after = look_at_machine()
    assert not ({h["netns"] for h in state["hosts"]} & after.netns)
    assert state["bridge"] not in after.links
    assert state["subnet"] not in after.unreachable_routes
    assert not any(exists(p) for p in state["cgroups"])
    netns = {h["netns"] for h in state["hosts"]}
    assert fresh_mounts(before, after, scratch, netns) <= {"/run/netns"}
    assert not still_running(launchers)
    assert processes_using(scratch) == []
