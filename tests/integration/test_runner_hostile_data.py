"""Names, contents and arguments full of shell syntax reach a real host as data, exactly.

Hypothesis drives the operations over SSH with sudo (user ``ops``: the command is quoted
once more by the sudo wrapper), and a canary file shows that nothing that was data ran.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubexms.runner import Runner
from tests.integration.test_runner_support import host_runner, on_host, unique
from tests.leasing import HostLease, HostPool

pytestmark = pytest.mark.fleet

CANARY = "/tmp/kxms-pwned"
PIECES = st.sampled_from(
    [
        " ",
        "'",
        '"',
        f"$(touch {CANARY})",
        f"`touch {CANARY}`",
        "\n",
        "\\",
        "*",
        "?",
        "~",
        "$HOME",
        ";",
        "&&",
        "|",
        ">",
        "-",
        "é",
        "中",
        "🙂",
        "\t",
        "%s",
        "{a,b}",
        "!",
        "#",
    ]
)
NAME = (
    st.lists(st.one_of(PIECES, st.text("xyz", min_size=1, max_size=2)), min_size=1, max_size=6)
    .map("".join)
    .filter(lambda n: "/" not in n and n not in (".", ".."))
)
CONTENT = st.lists(st.one_of(PIECES, st.text(max_size=4)), max_size=12).map("".join)
SETTINGS = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def ops_host(fleet_pool: HostPool) -> Iterator[HostLease]:
    with fleet_pool.lease(1, holder=__name__) as hosts:
        yield hosts


@pytest.fixture(scope="module")
async def ops_runner(ops_host: HostLease) -> AsyncIterator[Runner]:
    async with host_runner(ops_host, "ops") as runner:
        yield runner


@SETTINGS
@given(name=NAME, content=CONTENT, target=NAME)
async def test_hostile_names_and_contents_are_data(
    ops_host: HostLease, ops_runner: Runner, name: str, content: str, target: str
) -> None:
    base = f"/opt/{unique()}"
    path = f"{base}/{name}"
    try:
        assert (await ops_runner.files.write(path, content, mode=0o600)).changed
        assert not (await ops_runner.files.write(path, content, mode=0o600)).changed
        assert await ops_runner.files.read_text(path) == content
        # Independent check: the bytes on the host, read by root inside it.
        out = await on_host(ops_host, f"base64 -w0 < {shlex.quote(path)}")
        assert base64.b64decode(out) == content.encode()
        link = f"{base}/{target}.link"
        assert (await ops_runner.files.symlink(target, link)).changed
        assert await on_host(ops_host, f"readlink {shlex.quote(link)}") == target + "\n"
        block_change = await ops_runner.files.managed_block(
            f"{base}/block", content or "x", marker=name.replace("\n", " ")
        )
        assert block_change.changed
        count = f"find {base} -mindepth 1 -maxdepth 1 -printf x | wc -c"
        assert await on_host(ops_host, count) == "3\n"
    finally:
        await on_host(ops_host, f"rm -rf {base}")
    code, _, _ = await ops_host.exec(ops_host[0], f"test -e {CANARY}")
    assert code != 0, "data was executed as a command"
