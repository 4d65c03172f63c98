"""runner.services: scripts and result parsing (real systemd is tested on the fleet)."""

from __future__ import annotations

import io
import tarfile

import pytest

from kubexms.runner import Runner, ServiceNotActiveError, UnsupportedHostError
from kubexms.runner._services import unit_name
from tests.unit.runner.fakes import ScriptedConnector


def test_unit_names() -> None:
    assert unit_name("etcd") == "etcd.service"
    assert unit_name("kubelet.service") == "kubelet.service"
    assert unit_name("a@b.socket") == "a@b.socket"
    for bad in ("a b", "-x", "$(x)", ""):
        with pytest.raises(ValueError, match="unit name"):
            unit_name(bad)


async def test_install_unit_sends_unit_and_drop_ins_in_one_tar() -> None:
    fake = ScriptedConnector(lambda call: "@kxms:wrote 0\n@kxms:reloaded\n")
    change = await Runner(fake).services.install_unit(
        "demo", "[Service]\nExecStart=/bin/true\n", drop_ins={"10-env.conf": "[Service]\n"}
    )
    assert change.changed
    assert "daemon reloaded" in change.detail
    (call,) = fake.calls
    with tarfile.open(fileobj=io.BytesIO(call.stdin)) as archive:
        member = archive.extractfile("0")
        assert member is not None
        assert member.read() == b"[Service]\nExecStart=/bin/true\n"
    assert "/etc/systemd/system/demo.service.d/10-env.conf" in call.command
    assert "systemctl daemon-reload" in call.command


async def test_install_unit_unchanged_does_not_reload() -> None:
    fake = ScriptedConnector(lambda call: "@kxms:same 0\n")
    assert not (await Runner(fake).services.install_unit("demo", "x")).changed


async def test_start_reports_change_only_when_started() -> None:
    fake = ScriptedConnector(lambda call: "@kxms:done started\n")
    assert (await Runner(fake).services.start("demo")).changed
    assert "systemctl is-active --quiet -- demo.service ||" in fake.calls[0].command
    fake.handler = lambda call: ""
    assert not (await Runner(fake).services.start("demo")).changed


async def test_without_systemd_is_a_clear_error() -> None:
    fake = ScriptedConnector(lambda call: "@kxms:nosystemd\n")
    with pytest.raises(UnsupportedHostError, match="systemd is not the init system"):
        await Runner(fake).services.restart("demo")


async def test_wait_until_active_failure_carries_the_journal() -> None:
    out = "@kxms:state failed\n@kxms:journal demo: boom\n@kxms:journal demo: exit 3\n"
    fake = ScriptedConnector(lambda call: out)
    with pytest.raises(ServiceNotActiveError) as caught:
        await Runner(fake).services.wait_until_active("demo", timeout=3, interval=1)
    assert caught.value.state == "failed"
    assert "demo: boom\n    demo: exit 3" in str(caught.value)
    assert "-ge 3 ]" in fake.calls[0].command


async def test_wait_until_active_success() -> None:
    fake = ScriptedConnector(lambda call: "@kxms:state active\n")
    await Runner(fake).services.wait_until_active("demo")
