"""SSHConnector against real sshd, sudo and SFTP on the simulated fleet."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncssh
import pytest
import structlog

from kubexms.connector import (
    AuthenticationError,
    CommandTimeoutError,
    HostConnectionError,
    HostKeyChangedError,
    HostKeyError,
    SSHClientSettings,
    SSHConnector,
    SSHEndpoint,
    SudoError,
)
from tests.leasing import HostLease, LeaseHosts

BIG = 64 << 20


def _settings(hosts: HostLease, **overrides: object) -> SSHClientSettings:
    options: dict[str, object] = {
        "known_hosts_path": hosts.fleet.known_hosts_path,
        "connect_timeout": 20,
    }
    options.update(overrides)
    return SSHClientSettings(**options)  # type: ignore[arg-type]


def _endpoint(hosts: HostLease, index: int, user: str = "root", **auth: object) -> SSHEndpoint:
    if not auth:
        auth = {"private_key_path": hosts.fleet.private_key_path}
    return SSHEndpoint(hosts[index].address, 22, user, **auth)  # type: ignore[arg-type]


def _connector(
    hosts: HostLease,
    index: int,
    user: str = "root",
    *,
    settings: SSHClientSettings | None = None,
    sudo_password: str | None = None,
    bastion: SSHEndpoint | None = None,
    **auth: object,
) -> SSHConnector:
    return SSHConnector(
        hosts[index].name,
        _endpoint(hosts, index, user, **auth),
        settings or _settings(hosts),
        bastion=bastion,
        sudo_password=sudo_password,
    )


async def _host(hosts: HostLease, index: int, command: str) -> str:
    code, out, err = await hosts.fleet.host_exec(hosts[index].name, command)
    assert code == 0, f"{command}: {err}"
    return out


@contextlib.contextmanager
def _captured_logs(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """Everything structlog and the stdlib loggers (asyncssh) emit, as text."""
    lines: list[str] = []
    with caplog.at_level(logging.DEBUG), structlog.testing.capture_logs() as entries:
        yield lines
    lines.extend(str(entry) for entry in entries)
    lines.extend(record.getMessage() for record in caplog.records)


@contextlib.asynccontextmanager
async def _changed_host_key(
    hosts: HostLease, index: int, key_type: str = "ed25519"
) -> AsyncIterator[None]:
    """Give a host a new key (ed25519, or another type in the file sshd reads), and put the
    original back afterwards.

    sshd re-executes itself for every connection and reads its host key then, so swapping
    the file is enough; nothing needs restarting.
    """
    key = "/etc/ssh/ssh_host_ed25519_key"
    await _host(hosts, index, f"cp -p {key} {key}.kx-orig && cp -p {key}.pub {key}.pub.kx-orig")
    try:
        await _host(
            hosts, index, f"rm -f {key} {key}.pub && ssh-keygen -q -t {key_type} -N '' -f {key}"
        )
        yield
    finally:
        await _host(hosts, index, f"mv -f {key}.kx-orig {key} && mv -f {key}.pub.kx-orig {key}.pub")
    async with _connector(hosts, index) as restored:
        assert (await restored.run("true")).ok


async def test_root_by_key_runs_with_separate_streams(lease: LeaseHosts) -> None:
    hosts = lease(1)
    async with _connector(hosts, 0) as root:
        result = await root.run(
            'echo "$GREETING from $(hostname) in $(pwd)"; echo oops >&2; cat; exit 3',
            env={"GREETING": "it's me"},
            cwd="/etc",
            stdin="piped\n",
        )
        assert result.exit_code == 3
        assert result.stdout == f"it's me from {hosts[0].name} in /etc\npiped\n"
        assert result.stderr == "oops\n"
        assert result.duration > 0
        assert (await root.run("id -u", sudo=True)).stdout == "0\n"


async def test_root_by_password(lease: LeaseHosts) -> None:
    hosts = lease(1)
    async with _connector(hosts, 0, password=hosts.fleet.password("root")) as root:
        assert (await root.run("id -un")).stdout == "root\n"


async def test_ops_by_inline_key_has_passwordless_sudo(lease: LeaseHosts) -> None:
    hosts = lease(1)
    inline = hosts.fleet.private_key_path.read_text()
    async with _connector(hosts, 0, "ops", private_key=inline) as ops:
        assert (await ops.run("id -un")).stdout == "ops\n"
        result = await ops.run("id -u; cat", sudo=True, stdin=b"\x00\xffbytes")
        assert result.stdout.encode("utf-8", "replace").endswith(b"bytes")
        assert result.stdout.startswith("0\n")
        assert (await ops.run("test -r /etc/shadow", sudo=False)).exit_code != 0


async def test_agent_is_used_without_key_or_password(
    lease: LeaseHosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosts = lease(1)
    socket_path = tmp_path / "agent.sock"
    agent = await asyncio.create_subprocess_exec(
        "ssh-agent", "-D", "-a", str(socket_path), stdout=asyncio.subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            if socket_path.exists():
                break
            await asyncio.sleep(0.05)
        agent_env = {**os.environ, "SSH_AUTH_SOCK": str(socket_path)}
        add = await asyncio.create_subprocess_exec(
            "ssh-add", "-q", str(hosts.fleet.private_key_path), env=agent_env
        )
        assert await add.wait() == 0
        monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/id_* to fall back on
        monkeypatch.setenv("SSH_AUTH_SOCK", str(socket_path))
        endpoint = SSHEndpoint(hosts[0].address, 22, "ops")
        async with SSHConnector(hosts[0].name, endpoint, _settings(hosts)) as via_agent:
            assert (await via_agent.run("id -un")).stdout == "ops\n"
        monkeypatch.delenv("SSH_AUTH_SOCK")
        with pytest.raises(AuthenticationError, match="No password or private key is configured"):
            await SSHConnector(hosts[0].name, endpoint, _settings(hosts)).connect()
    finally:
        agent.kill()
        await agent.wait()


async def test_deployer_sudo_password_never_shows(
    lease: LeaseHosts, caplog: pytest.LogCaptureFixture
) -> None:
    hosts = lease(1)
    password = hosts.fleet.password("deployer")
    with _captured_logs(caplog) as logs:
        async with (
            _connector(hosts, 0, "deployer", sudo_password=password) as deployer,
            _connector(hosts, 0) as watcher,
        ):
            assert (await deployer.run("id -u", sudo=True)).stdout == "0\n"
            sleeper = asyncio.ensure_future(
                deployer.run("sleep 4; echo done", sudo=True, env={"MARK": "kx-sudo-sleep"})
            )
            seen_sleep = False
            for _ in range(30):
                await asyncio.sleep(0.1)
                ps = await watcher.run("ps -eo user,args")
                environs = await watcher.run(
                    "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'"
                )
                assert password not in ps.stdout
                assert password not in environs.stdout
                seen_sleep = seen_sleep or any(
                    line.split()[:2] == ["root", "sleep"] for line in ps.stdout.splitlines()
                )
            assert seen_sleep, "the sudo'ed sleep was never seen running as root"
            assert (await sleeper).stdout == "done\n"
    assert logs
    assert not [line for line in logs if password in line]


async def test_deployer_password_login_uses_it_for_sudo(lease: LeaseHosts) -> None:
    hosts = lease(1)
    async with _connector(
        hosts, 0, "deployer", password=hosts.fleet.password("deployer")
    ) as deployer:
        assert (await deployer.run("id -u", sudo=True)).stdout == "0\n"


async def test_wrong_or_missing_sudo_password_fails_clearly(lease: LeaseHosts) -> None:
    hosts = lease(1)
    async with _connector(hosts, 0, "deployer", sudo_password="not-the-password") as wrong:
        with pytest.raises(SudoError, match="sudo refused") as caught:
            await asyncio.wait_for(wrong.run("id -u", sudo=True, stdin="data\n"), 60)
        assert not caught.value.retryable
    async with _connector(hosts, 0, "deployer") as missing:
        with pytest.raises(SudoError, match="password is required"):
            await asyncio.wait_for(missing.run("id -u", sudo=True), 60)


async def test_bastion_is_shared_and_used(lease: LeaseHosts) -> None:
    hosts = lease(3)  # the first is the jump host of the other two
    settings = _settings(hosts)
    jump = _endpoint(hosts, 0)
    targets = [_connector(hosts, i, settings=settings, bastion=jump) for i in (1, 2)]
    try:
        await asyncio.gather(*(target.connect() for target in targets))
        assert settings.bastions.open_count == 1
        for index, target in zip((1, 2), targets, strict=True):
            result = await target.run('hostname; echo "${SSH_CLIENT%% *}"')
            assert result.stdout.split() == [hosts[index].name, hosts[0].address]
        await targets[0].close()
        assert settings.bastions.open_count == 1
        assert (await targets[1].run("true")).ok
    finally:
        for target in targets:
            await target.close()
    assert settings.bastions.open_count == 0


async def test_changed_host_key_is_refused_under_strict(lease: LeaseHosts) -> None:
    hosts = lease(1)
    index = 0
    async with _changed_host_key(hosts, index):
        with pytest.raises(HostKeyError, match="does not match the one recorded") as caught:
            await _connector(hosts, index).connect()
        assert not caught.value.retryable
        assert f"{hosts[index].address}:22" in str(caught.value)


async def test_a_host_key_of_another_type_is_a_changed_host_key(lease: LeaseHosts) -> None:
    # known_hosts records an ed25519 key; the host now has only an ECDSA one. This was
    # reported as a network fault ("reset the connection"), and retried.
    hosts = lease(1)
    async with _changed_host_key(hosts, 0, "ecdsa"):
        with pytest.raises(HostKeyChangedError) as caught:
            await _connector(hosts, 0).connect()
    error = caught.value
    assert not error.retryable
    assert error.label == "host key changed"
    assert f"{hosts[0].address}:22 now has a ecdsa-sha2-nistp256 host key" in str(error)
    assert "records only ssh-ed25519" in str(error)


async def test_unknown_host_is_refused_under_strict(lease: LeaseHosts, tmp_path: Path) -> None:
    hosts = lease(1)
    settings = _settings(hosts, known_hosts_path=tmp_path / "empty_known_hosts")
    with pytest.raises(HostKeyError, match=r"is not in .* the host key policy is strict"):
        await _connector(hosts, 0, settings=settings).connect()


async def test_accept_new_records_keys_and_refuses_a_changed_one(
    lease: LeaseHosts, tmp_path: Path
) -> None:
    hosts = lease(3)
    known_hosts = tmp_path / "known_hosts"
    settings = _settings(hosts, host_key_policy="accept-new", known_hosts_path=known_hosts)
    indexes = list(range(len(hosts)))
    connectors = [_connector(hosts, i, settings=settings) for i in indexes]
    await asyncio.gather(*(c.connect() for c in connectors))
    for connector in connectors:
        await connector.close()
    recorded = known_hosts.read_text().splitlines()
    assert sorted(line.split()[0] for line in recorded) == sorted(hosts[i].address for i in indexes)
    host_keys = (await _host(hosts, 0, "cat /etc/ssh/ssh_host_ed25519_key.pub")).split()
    assert f"{hosts[0].address} {host_keys[0]} {host_keys[1]}" in recorded

    strict = _settings(hosts, known_hosts_path=known_hosts)
    async with _connector(hosts, 0, settings=strict) as again:
        assert (await again.run("true")).ok

    index = indexes[-1]
    async with _changed_host_key(hosts, index):
        fresh = _settings(hosts, host_key_policy="accept-new", known_hosts_path=known_hosts)
        with pytest.raises(HostKeyError, match="does not match"):
            await _connector(hosts, index, settings=fresh).connect()
    assert known_hosts.read_text().splitlines() == recorded


async def test_host_key_policy_off_skips_verification(lease: LeaseHosts, tmp_path: Path) -> None:
    hosts = lease(1)
    settings = _settings(hosts, host_key_policy="off", known_hosts_path=tmp_path / "none")
    async with _connector(hosts, 0, settings=settings) as unchecked:
        assert (await unchecked.run("true")).ok
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize(("user", "sudo"), [("root", False), ("deployer", True)])
async def test_timed_out_command_is_gone_from_the_host(
    lease: LeaseHosts, user: str, sudo: bool
) -> None:
    hosts = lease(1)
    index = 0
    # Distinctive durations so pgrep on the host finds exactly these sleeps.
    seconds = 7001 if user == "root" else 7002
    command = f"sleep {seconds}1 & (sleep {seconds}2; echo never) & sleep {seconds}3"
    connector = _connector(hosts, index, user, sudo_password=hosts.fleet.password("deployer"))
    async with connector:
        with pytest.raises(CommandTimeoutError, match="and was killed") as caught:
            await connector.run(command, sudo=sudo, timeout=1.5)
        assert caught.value.killed
    code, out, _ = await hosts.exec(hosts[index].name, f"pgrep -af 'sleep {seconds}[123]' || true")
    assert code == 0
    assert out.strip() == "", f"still running on the host:\n{out}"


@pytest.mark.parametrize(("user", "sudo"), [("root", False), ("deployer", True)])
async def test_closing_right_after_a_cancelled_command_still_kills_it(
    lease: LeaseHosts, user: str, sudo: bool
) -> None:
    hosts = lease(1)
    # The kill of a cancelled command runs in the background over the same connection; close()
    # must let it finish rather than cut it off and leave the command running.
    index = 0
    seconds = 7003 if user == "root" else 7004
    connector = _connector(hosts, index, user, sudo_password=hosts.fleet.password("deployer"))
    await connector.connect()
    task = asyncio.ensure_future(connector.run(f"sleep {seconds}1", sudo=sudo))
    name = hosts[index].name
    for _ in range(200):
        # The sleep itself (not sudo's command line, which names it too): the command is then
        # past its process-group marker, so the connector knows what to kill.
        _, out, _ = await hosts.exec(name, f"pgrep -xf 'sleep {seconds}1' || true")
        if out.strip():
            break
        await asyncio.sleep(0.05)
    assert out.strip(), "the command never started"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await connector.close()
    # The kill has been delivered when close() returns; sudo and setsid then exit on their own
    # within moments (without the kill, the sleep would run for a day).
    for _ in range(50):
        code, out, _ = await hosts.exec(name, f"pgrep -af 'sleep {seconds}[1]' || true")
        assert code == 0
        if not out.strip():
            break
        await asyncio.sleep(0.1)
    assert out.strip() == "", f"still running on the host after close():\n{out}"


async def _sha256_of(hosts: HostLease, index: int, path: str) -> str:
    return (await _host(hosts, index, f"sha256sum {path}")).split()[0]


@pytest.mark.parametrize("user", ["root", "deployer"])
async def test_64mib_round_trip_streams(lease: LeaseHosts, tmp_path: Path, user: str) -> None:
    hosts = lease(1)
    index = 0
    source = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with source.open("wb") as file:
        for _ in range(BIG >> 20):
            chunk = os.urandom(1 << 20)
            digest.update(chunk)
            file.write(chunk)
    remote = f"/var/tmp/kx-big-{user}.bin"
    connector = _connector(hosts, index, user, sudo_password=hosts.fleet.password("deployer"))
    tracemalloc.start()
    try:
        async with connector:
            await connector.put(source, remote, mode=0o600)
            assert await _sha256_of(hosts, index, remote) == digest.hexdigest()
            fetched = tmp_path / "fetched.bin"
            await connector.get(remote, fetched)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await hosts.exec(hosts[index], f"rm -f {remote}")
    assert hashlib.sha256(fetched.read_bytes()).hexdigest() == digest.hexdigest()
    assert peak < BIG // 4, f"copying 64 MiB allocated {peak >> 20} MiB at peak"


@pytest.mark.parametrize("user", ["ops", "deployer"])
async def test_non_root_write_lands_with_mode_and_owner(
    lease: LeaseHosts, tmp_path: Path, user: str
) -> None:
    hosts = lease(1)
    index = 0
    directory = f"/etc/kx-connector-{user}"
    connector = _connector(hosts, index, user, sudo_password=hosts.fleet.password("deployer"))
    tree = tmp_path / "tree"
    (tree / "nested").mkdir(parents=True)
    (tree / "nested" / "file.txt").write_text("nested\n")
    try:
        async with connector:
            await connector.put(b"secret: 1\n", f"{directory}/app.conf", mode=0o640, owner=user)
            stat = await _host(hosts, index, f"stat -c '%a %U' {directory}/app.conf")
            assert stat == f"640 {user}\n"
            await connector.put(b"root only\n", f"{directory}/root.conf", mode=0o600)
            assert await _host(hosts, index, f"stat -c '%a %U' {directory}/root.conf") == (
                "600 root\n"
            )
            await connector.put(tree, f"{directory}/tree", mode=0o750, owner=f"{user}:{user}")
            assert await _host(
                hosts,
                index,
                f"stat -c '%a %U %G' {directory}/tree {directory}/tree/nested/file.txt",
            ) == (f"750 {user} {user}\n644 {user} {user}\n")
            leftovers = await _host(hosts, index, f"find {directory} /tmp -name '*kubexms*'")
            assert leftovers == ""

            secret = f"/root/kx-secret-{user}"
            await _host(hosts, index, f"umask 077; echo only-root > {secret}")
            assert (await connector.run(f"cat {secret}")).exit_code != 0
            fetched = tmp_path / "secret"
            await connector.get(secret, fetched)
            assert fetched.read_text() == "only-root\n"
            await connector.get(f"{directory}/tree", tmp_path / "fetched-tree")
            assert (tmp_path / "fetched-tree" / "nested" / "file.txt").read_text() == "nested\n"
    finally:
        await hosts.exec(hosts[index], f"rm -rf {directory} /root/kx-secret-*")


async def test_closed_port_is_a_retryable_connection_error(lease: LeaseHosts) -> None:
    hosts = lease(1)
    endpoint = SSHEndpoint(
        hosts[0].address, 2, "root", private_key_path=hosts.fleet.private_key_path
    )
    with pytest.raises(HostConnectionError, match="refused the connection") as caught:
        await SSHConnector("node-closed", endpoint, _settings(hosts)).connect()
    assert caught.value.retryable
    assert f"{hosts[0].address}:2" in str(caught.value)


async def test_wrong_key_is_an_authentication_error(lease: LeaseHosts) -> None:
    hosts = lease(1)
    stranger = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
    with pytest.raises(AuthenticationError, match="rejected the login of user 'root'") as caught:
        await _connector(hosts, 0, private_key=stranger).connect()
    assert not caught.value.retryable


async def test_close_is_idempotent_and_reconnect_works(lease: LeaseHosts) -> None:
    hosts = lease(1)
    connector = _connector(hosts, 0)
    await connector.connect()
    await connector.close()
    await connector.close()
    assert (await connector.run("echo back")).stdout == "back\n"
    await connector.close()
