"""SystemdService and RestartService: what is written, when systemd reloads, starts and
restarts, and what a failure says (against a double of systemd; the fleet tests use real
systemd)."""

from __future__ import annotations

import json

import pytest

from kubexms.engine import PlanContext, Roles, Task
from kubexms.steps import (
    Health,
    RestartService,
    ServiceFile,
    ServiceFileInvalidError,
    ServiceUnhealthyError,
    SystemdService,
    one_after_another,
    rolling,
)
from kubexms.testing import cluster_of
from tests.unit.steps.systemd_double import SystemdDouble, systemd_context

UNIT = "[Service]\nExecStart=/usr/local/bin/etcd --config-file /etc/etcd/etcd.conf.yml\n"
CONFIG = "name: node1\n"
PENDING = "/var/lib/kubexms/restart-pending/etcd.service"


def service(config: str = CONFIG, **more: object) -> SystemdService:
    return SystemdService(
        "etcd",
        UNIT,
        files=(ServiceFile("/etc/etcd/etcd.conf.yml", config),),
        health=Health(port=2379, timeout=5, interval=0.1),
        **more,  # type: ignore[arg-type]
    )


async def test_first_run_writes_reloads_enables_starts_and_waits() -> None:
    double = SystemdDouble()
    ctx = await systemd_context(double)
    pending = await service().precheck(ctx)
    assert pending.changed
    assert pending.detail.startswith(
        "write /etc/systemd/system/etcd.service (new file), /etc/etcd/etcd.conf.yml (new file)"
    )
    assert pending.detail.endswith("; enable; start")
    assert double.done == []  # the precheck only reads

    change = await service().run(ctx)
    assert change.changed
    assert double.done == [
        f"write {PENDING}",
        "write /etc/systemd/system/etcd.service",
        "write /etc/etcd/etcd.conf.yml",
        "daemon-reload",
        "enable",
        "start",
        f"remove {PENDING}",
    ]
    assert double.modes["/etc/etcd/etcd.conf.yml"] == 0o644
    assert not (await service().precheck(ctx)).changed


async def test_second_run_changes_nothing() -> None:
    double = SystemdDouble()
    ctx = await systemd_context(double)
    await service().run(ctx)
    double.done.clear()
    change = await service().run(ctx)
    assert not change.changed
    assert double.done == []


async def test_a_changed_config_file_restarts_once_without_a_reload() -> None:
    double = SystemdDouble()
    ctx = await systemd_context(double)
    await service().run(ctx)
    double.done.clear()
    changed = service("name: node1\nsnapshot-count: 5000\n")
    assert (
        await changed.precheck(ctx)
    ).detail == "write /etc/etcd/etcd.conf.yml (+1 -0 lines); restart"
    await changed.run(ctx)
    assert double.done == [
        f"write {PENDING}",
        "write /etc/etcd/etcd.conf.yml",
        "restart",
        f"remove {PENDING}",
    ]


async def test_a_restart_left_pending_by_an_interrupted_run_happens_on_the_rerun() -> None:
    double = SystemdDouble()
    ctx = await systemd_context(double)
    await service().run(ctx)
    double.files[PENDING] = b"etcd.service\n"  # files written, then the run was cut
    assert (await service().precheck(ctx)).detail == "restart"
    double.done.clear()
    await service().run(ctx)
    assert double.done == ["restart", f"remove {PENDING}"]


async def test_deferred_restart_is_left_to_restart_service() -> None:
    double = SystemdDouble()
    ctx = await systemd_context(double)
    await service().run(ctx)
    double.done.clear()
    deferred = service("name: changed\n", defer_restart=True)
    await deferred.run(ctx)
    assert double.done == [f"write {PENDING}", "write /etc/etcd/etcd.conf.yml"]
    assert not (await deferred.precheck(ctx)).changed
    restart = RestartService("etcd", Health(port=2379, timeout=5))
    assert (await restart.precheck(ctx)).detail == "restart"
    double.done.clear()
    await restart.run(ctx)
    assert double.done == ["restart", f"remove {PENDING}"]
    assert not (await restart.precheck(ctx)).changed


async def test_deferred_restart_still_starts_a_stopped_service() -> None:
    double = SystemdDouble()
    ctx = await systemd_context(double)
    await service(defer_restart=True).run(ctx)
    assert double.active
    assert f"remove {PENDING}" in double.done


async def test_start_false_writes_and_enables_but_leaves_it_stopped() -> None:
    double = SystemdDouble()
    ctx = await systemd_context(double)
    assert (await service(start=False).precheck(ctx)).detail.endswith("; enable")
    await service(start=False).run(ctx)
    assert not double.active
    assert double.done[-2:] == ["enable", f"remove {PENDING}"]  # no restart owed when started
    double.done.clear()
    assert not (await service(start=False).precheck(ctx)).changed
    assert not (await service(start=False).run(ctx)).changed
    assert double.done == []


async def test_start_false_still_restarts_a_running_service_whose_files_changed() -> None:
    double = SystemdDouble()
    ctx = await systemd_context(double)
    await service().run(ctx)  # started by someone else (kubeadm, for the kubelet)
    double.done.clear()
    await service("name: changed\n", start=False).run(ctx)
    assert "restart" in double.done


async def test_a_stopped_service_is_started_again() -> None:
    double = SystemdDouble()
    ctx = await systemd_context(double)
    await service().run(ctx)
    double.active = False
    assert (await service().precheck(ctx)).detail == "start"
    double.done.clear()
    await service().run(ctx)
    assert double.done == ["start"]


async def test_a_unit_that_fails_to_start_reports_its_journal() -> None:
    double = SystemdDouble(fails_to_start=True, journal="etcd[7]: bad flag --foo\n")
    ctx = await systemd_context(double)
    with pytest.raises(ServiceUnhealthyError) as caught:
        await service().run(ctx)
    message = str(caught.value)
    assert "etcd.service is not healthy: it is failed, not active" in message
    assert "last journal lines:\n    etcd[7]: bad flag --foo" in message
    assert PENDING in double.files  # the next run still knows a restart is due


async def test_an_unhealthy_service_reports_the_health_command_and_journal() -> None:
    double = SystemdDouble(healthy=False, journal="etcd[9]: waiting for peers\n")
    ctx = await systemd_context(double)
    step = SystemdService("etcd", UNIT, health=Health(command="etcdctl endpoint health", timeout=1))
    with pytest.raises(ServiceUnhealthyError) as caught:
        await step.run(ctx)
    message = str(caught.value)
    assert "`etcdctl endpoint health` did not succeed within 1s" in message
    assert "connection refused" in message
    assert "etcd[9]: waiting for peers" in message


def test_params_show_files_and_hide_secret_contents() -> None:
    step = SystemdService(
        "registry",
        UNIT,
        files=(
            ServiceFile("/etc/registry/config.yml", "http: {}\n"),
            ServiceFile("/etc/registry/htpasswd", "admin:$2y$hash\n", mode=0o600, secret=True),
        ),
        drop_ins={"10-limits.conf": "[Service]\nLimitNOFILE=65536\n"},
    )
    params = step.params()
    text = json.dumps(params)
    assert "$2y$hash" not in text
    assert "http: {}" in text
    files = params["files"]
    assert isinstance(files, list)
    assert set(files[1]) == {"path", "mode", "owner", "sha256"}
    assert step.name == "service-registry"
    assert step.describe() == "service registry.service: files, enabled, running, healthy"
    assert [f.path for f in step.unit_files()] == [
        "/etc/systemd/system/registry.service",
        "/etc/systemd/system/registry.service.d/10-limits.conf",
    ]


def test_declaration_errors() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Health()
    with pytest.raises(ValueError, match="exactly one"):
        Health(command="true", port=1)
    with pytest.raises(ValueError, match="positive"):
        Health(port=80, timeout=0)
    with pytest.raises(ValueError, match="not a systemd unit"):
        SystemdService("etcd; rm -rf /", UNIT)
    with pytest.raises(ValueError, match=r"NAME\.conf"):
        SystemdService("etcd", UNIT, drop_ins={"../x": ""})
    with pytest.raises(ValueError, match="named twice"):
        SystemdService("etcd", UNIT, files=(ServiceFile("/etc/systemd/system/etcd.service", ""),))


def test_rolling_makes_one_task_per_host_in_config_order() -> None:
    ctx = PlanContext.for_cluster(cluster_of(5, masters=3))
    tasks = rolling(ctx, "restart", [RestartService("etcd")], Roles("etcd"))
    assert [task.name for task in tasks] == ["restart-node1", "restart-node2", "restart-node3"]
    assert all(isinstance(task, Task) for task in tasks)
    assert one_after_another(tasks, ["configure"]) == {
        "restart-node1": ["configure"],
        "restart-node2": ["restart-node1"],
        "restart-node3": ["restart-node2"],
    }


PROXY_UNIT = "[Service]\nExecStart=/usr/sbin/haproxy -Ws -f /etc/lb/haproxy.cfg\n"
PROXY_CONFIG = "/etc/lb/haproxy.cfg"
RELOAD_PENDING = "/var/lib/kubexms/reload-pending/lb.service"


def proxy(config: str) -> SystemdService:
    return SystemdService(
        "lb",
        PROXY_UNIT,
        files=(ServiceFile(PROXY_CONFIG, config, reload=True, validate="haproxy -c -f {path}"),),
    )


async def test_a_reload_file_is_validated_then_reloads_instead_of_restarting() -> None:
    double = SystemdDouble()
    ctx = await systemd_context(double)
    await proxy("backend a\n").run(ctx)
    double.done.clear()
    changed = proxy("backend a\nbackend b\n")
    assert (await changed.precheck(ctx)).detail == f"write {PROXY_CONFIG} (+1 -0 lines); reload"
    await changed.run(ctx)
    assert double.done == [
        f"write {PROXY_CONFIG}.kubexms-new",
        f"validate {PROXY_CONFIG}.kubexms-new",
        f"write {RELOAD_PENDING}",
        f"move {PROXY_CONFIG}.kubexms-new {PROXY_CONFIG}",
        "reload",
        f"remove {RELOAD_PENDING}",
    ]
    assert double.files[PROXY_CONFIG] == b"backend a\nbackend b\n"
    assert not (await changed.precheck(ctx)).changed


async def test_a_config_the_daemon_refuses_leaves_the_running_one_untouched() -> None:
    double = SystemdDouble()
    ctx = await systemd_context(double)
    await proxy("backend a\n").run(ctx)
    double.done.clear()
    with pytest.raises(ServiceFileInvalidError) as caught:
        await proxy("backend a\nBAD\n").run(ctx)
    message = str(caught.value)
    assert f"{PROXY_CONFIG} was not replaced: `haproxy -c -f" in message
    assert "unknown keyword 'BAD'" in message
    assert double.files[PROXY_CONFIG] == b"backend a\n"
    assert not any(path.endswith(".kubexms-new") for path in double.files)
    assert "reload" not in double.done
    assert "restart" not in double.done
    assert RELOAD_PENDING not in double.files  # nothing is left to do for a rerun
    assert not (await proxy("backend a\n").precheck(ctx)).changed


async def test_a_reload_left_pending_by_an_interrupted_run_happens_on_the_rerun() -> None:
    double = SystemdDouble()
    ctx = await systemd_context(double)
    await proxy("backend a\n").run(ctx)
    double.files[RELOAD_PENDING] = b"lb.service\n"
    assert (await proxy("backend a\n").precheck(ctx)).detail == "reload"
    double.done.clear()
    await proxy("backend a\n").run(ctx)
    assert double.done == ["reload", f"remove {RELOAD_PENDING}"]


def test_a_validate_command_must_name_the_path() -> None:
    with pytest.raises(ValueError, match=r"must name \{path\}"):
        ServiceFile("/etc/lb/haproxy.cfg", "", validate="haproxy -c")
