"""Command wrapping: text, env, cwd and stdin arrive exactly as given, with and without sudo."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubexms.connector import LocalConnector
from kubexms.connector._shell import (
    Elevation,
    PgidMarkerFilter,
    quote,
    validate_env,
    validate_sudo_password,
    wrap_command,
)

# Anything a shell word can hold: every character but NUL (and lone surrogates, not UTF-8).
shell_text = st.text(
    alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]),
    max_size=60,
)
tricky_text = st.lists(
    st.sampled_from(
        ["'", '"', "$(id)", "`id`", "\\", "\n", " ", "$HOME", "*", ";", "&&", "ü", "漢", "\t"]
    )
    | shell_text,
    max_size=8,
).map("".join)
env_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True).filter(
    # Variables the shell itself sets or uses would not round-trip.
    lambda n: n not in {"PWD", "OLDPWD", "IFS", "PS4", "PPID", "OPTIND", "SHLVL"}
)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

needs_root_sudo = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("sudo") is None, reason="needs root and sudo"
)


def _run(connector: LocalConnector, command: str, **kwargs: object) -> tuple[int, str, str]:
    result = asyncio.run(connector.run(command, **kwargs))  # type: ignore[arg-type]
    return result.exit_code, result.stdout, result.stderr


@FAST
@given(text=tricky_text)
def test_command_text_round_trips_through_the_wrapping(text: str) -> None:
    code, out, err = _run(LocalConnector(), f"printf %s {quote(text)}")
    assert (code, out, err) == (0, text, "")


@FAST
@given(env=st.dictionaries(env_names, tricky_text, max_size=4))
def test_env_values_round_trip(env: dict[str, str]) -> None:
    names = sorted(env)
    command = "".join(f'printf "%s\\0" "${name}"; ' for name in names)
    code, out, _ = _run(LocalConnector(), command, env=env)
    assert code == 0
    assert out.split("\x00")[:-1] == [env[name] for name in names]


@FAST
@given(data=st.binary(max_size=4096))
def test_stdin_bytes_arrive_exactly(data: bytes) -> None:
    result = asyncio.run(LocalConnector().run("od -An -tx1 -v", stdin=data))
    assert bytes.fromhex(result.stdout.replace("\n", " ")) == data


@FAST
@given(
    name=tricky_text.filter(
        lambda t: t not in {"", ".", ".."} and "/" not in t and len(t.encode()) < 200
    )
)
def test_cwd_with_any_name(name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    base = tmp_path_factory.mktemp("cwd")
    directory = base / name
    directory.mkdir()
    code, out, _ = _run(LocalConnector(), "pwd -P", cwd=str(directory))
    assert (code, out) == (0, f"{directory.resolve()}\n")


@pytest.mark.parametrize(
    "command",
    [
        "echo \"$(echo 'nested $(x)')\" `echo back`",
        'a=1\nb=\'two\nlines\'\necho "$a" "$b"',
        "cat <<'EOF'\n$NOT_EXPANDED `nor this`\nEOF",
        "for i in 1 2 3; do printf '%s,' \"$i\"; done; echo",
        "exit 7",
        "echo out; echo err >&2; false",
    ],
)
def test_wrapped_command_behaves_like_sh_c(command: str) -> None:
    direct = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True)
    assert _run(LocalConnector(), command) == (direct.returncode, direct.stdout, direct.stderr)


def _run_wrapped(password: str | None, command: str, stdin: bytes) -> tuple[int, bytes, bytes]:
    wrapped = wrap_command(command, elevation=Elevation(password), token=secrets.token_hex(16))
    done = subprocess.run(
        ["/bin/sh", "-c", wrapped.text], input=wrapped.stdin_prefix + stdin, capture_output=True
    )
    marker = PgidMarkerFilter(wrapped.pid_marker)
    stderr = marker.feed(done.stderr) + marker.close()
    assert marker.seen
    return done.returncode, done.stdout, stderr


@needs_root_sudo
@FAST
@given(text=tricky_text, stdin=st.binary(max_size=512))
def test_sudo_wrapping_round_trips_and_drains_the_password(text: str, stdin: bytes) -> None:
    # Root is never asked for a password, so the password line reaches the drain loop: the
    # command must still see exactly the caller's stdin and never the password.
    password = "pw-" + secrets.token_hex(8)
    code, out, err = _run_wrapped(password, f"id -u; printf %s {quote(text)}; cat", stdin)
    assert code == 0, err
    assert out == b"0\n" + text.encode() + stdin
    assert password.encode() not in out


@needs_root_sudo
def test_sudo_without_password_uses_sudo_n() -> None:
    wrapped = wrap_command("id -u", elevation=Elevation(None), token="t")
    assert wrapped.text.startswith("exec sudo -n ")
    assert wrapped.stdin_prefix == b""
    assert _run_wrapped(None, "id -u", b"")[:2] == (0, b"0\n")


def test_password_is_only_on_stdin() -> None:
    password = "s3cr3t 'pw' $(x)"
    wrapped = wrap_command("true", env={"A": "b"}, elevation=Elevation(password), token="tok")
    assert password not in wrapped.text
    assert password not in repr(wrapped)
    assert password not in repr(Elevation(password))
    assert wrapped.stdin_prefix.startswith(password.encode() + b"\n")
    assert "sudo -k -S -p ''" in wrapped.text


def test_whole_command_with_env_and_cwd_runs_under_one_sudo() -> None:
    wrapped = wrap_command(
        "make install", env={"PREFIX": "/opt"}, cwd="/src", elevation=Elevation("pw"), token="t"
    )
    head, _, payload = wrapped.text.partition(" kubexms ")
    assert head.count("sudo") == 1
    assert "PREFIX" not in head
    assert "/src" not in head
    for part in ("export PREFIX=/opt", "cd -- /src", "make install"):
        assert part in payload


@pytest.mark.parametrize("name", ["1A", "A-B", "", "A B", "Ä", "A=B"])
def test_invalid_env_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="environment variable name"):
        validate_env({name: "x"})


def test_nul_bytes_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="environment variable A contains a NUL"):
        validate_env({"A": "x\x00y"})
    with pytest.raises(ValueError, match="command contains a NUL"):
        wrap_command("a\x00b", token="t")


@pytest.mark.parametrize("password", ["a\nb", "a\rb", "a\x00"])
def test_sudo_password_with_line_break_is_refused(password: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        validate_sudo_password(password)
    with pytest.raises(ValueError, match="line break"):
        LocalConnector(sudo_password=password)


def test_marker_filter_finds_marker_split_across_chunks() -> None:
    marker = PgidMarkerFilter(b"<m>")
    out = marker.feed(b"sudo: warning\n<") + marker.feed(b"m>12") + marker.feed(b"34\nreal err")
    out += marker.feed(b"or\n") + marker.close()
    assert marker.pgid == 1234
    assert out == b"sudo: warning\nreal error\n"


def test_marker_filter_without_marker_keeps_everything() -> None:
    marker = PgidMarkerFilter(b"<m>")
    out = marker.feed(b"sudo: a password is required\n") + marker.close()
    assert not marker.seen
    assert out == b"sudo: a password is required\n"
    assert marker.settled.is_set()
