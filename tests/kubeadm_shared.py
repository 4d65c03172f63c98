"""The session's one kubeadm cluster, shared by three fleet modules so it is built once:
tests/e2e/test_create_cluster_full.py (all twelve phases in one run), tests/e2e/
test_create_cluster_kubeadm.py (a foreign worker refused, ``--resume``, a rerun, the render)
and tests/faults/test_control_plane_faults.py (a master's sshd lost mid join).

Six systemd hosts from tests/kubeadm_cluster.py: 3 masters running etcd, 2 workers also running
the load balancer for a virtual IP, 1 registry host; calico as the network plugin, a manifest
add-on, the image list's images as busybox STAND-INs in the store (the registry phase pushes
them), no ``--only``.

What has to happen in order happens here, each stage once, started by whichever test needs it
first, its outcome recorded for the tests that assert on it; so no test depends on the order in
which the modules (or their tests) run:

1. :meth:`SharedCluster.fresh`: the first run, on hosts no earlier run of this cluster touched.
2. :meth:`SharedCluster.master_lost_mid_join` (after 1): the third master taken out of the
   cluster as ``kubeadm reset -f`` does (kubelet and its static pods stopped, kubeadm's files and
   the PKI removed; its Node stays, as after a real reset), then a run in which that master's
   sshd stops (and its sessions end) when its ``kubeadm join --control-plane`` begins; that run
   continued the way its message says.
3. :meth:`SharedCluster.foreign_worker` (after 1): a worker reset the same way, given the
   kubelet.conf of another cluster; a run (refused there); the file removed; ``--resume``.
4. :meth:`SharedCluster.final_rerun` (after 2 and 3, whatever their outcome): one rerun, which
   must change nothing.

Every stage leaves the cluster whole when it succeeds, so a test that only looks at the live
cluster (kubectl, files on the hosts) may run before or after any of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest
import pytest_asyncio

from kubexms.artifacts import ArtifactStore, ImageRef, ImageStore, cluster_images
from kubexms.config import load_config
from kubexms.pki import PkiOptions, generate_pki
from tests.doubles import double_script
from tests.event_log import events
from tests.fixtures.artifacts.busybox_image import build_busybox_image
from tests.fixtures.artifacts.runtime_release import ReleaseFile
from tests.integration.test_cni_addons_fleet import CALICO, DEMO_MANIFEST, HELM, sha256, tar_gz
from tests.killed_run import finish_within
from tests.kubeadm_cluster import Cluster, kubeadm_cluster
from tests.leasing import HostPool
from tests.unit.cni.upstream import FIXTURES

SHARED_BY = (
    "tests/e2e/test_create_cluster_full.py",
    "tests/e2e/test_create_cluster_kubeadm.py",
    "tests/faults/test_control_plane_faults.py",
)
"""The test files that use the shared cluster: under pytest-xdist one worker runs them all
(tests/conftest.py's SHARED_BY_MODULES), so it is built once."""

# From the fault to the end of the run: the lost sessions close their connections at once;
# the bound is for a heavily loaded machine (the run stops at the first failure).
FAIL_BOUND = 180.0
REACH_JOIN = 1500.0  # the run goes through every phase's prechecks up to the victim's join

RESET = r"""
# What `kubeadm reset -f` removes (external etcd: no member to remove); the Node object stays.
# Stopping the kubelet stops its static pods (they live in its cgroup).
systemctl stop kubelet
rm -rf /etc/kubernetes/manifests/* /etc/kubernetes/pki /var/lib/kubelet/*
rm -f /etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf /etc/kubernetes/kubelet.conf
rm -f /etc/kubernetes/bootstrap-kubelet.conf /etc/kubernetes/controller-manager.conf
rm -f /etc/kubernetes/scheduler.conf
"""

T = TypeVar("T")


class Once(Generic[T]):
    """An async stage run at most once; every caller gets its value (or its error again)."""

    def __init__(self, make: Callable[[], Awaitable[T]]) -> None:
        self._make = make
        self._lock = asyncio.Lock()
        self._done = False
        self._value: T | None = None
        self._error: BaseException | None = None

    async def __call__(self) -> T:
        async with self._lock:
            if not self._done:
                try:
                    self._value = await self._make()
                except Exception as error:  # recorded for every test that needs this stage
                    self._error = error
                self._done = True
        if self._error is not None:
            raise AssertionError(
                f"this stage of the shared cluster failed: {self._error!r}"
            ) from self._error
        assert self._value is not None
        return self._value


@dataclass(frozen=True)
class Outcome:
    """One `create cluster -o json` run: its exit code, stdout and stderr."""

    code: int
    out: str
    err: str

    @property
    def document(self) -> dict[str, Any]:
        try:
            parsed: dict[str, Any] = json.loads(self.out)
        except ValueError:
            return {"raw": self.out}
        return parsed


@dataclass(frozen=True)
class Health:
    """What a real kubectl saw through the endpoint right after a stage's last run."""

    readyz: tuple[int, str, str]
    nodes: list[str]
    masters: list[str]


@dataclass(frozen=True)
class FreshRun:
    outcome: Outcome
    log: list[dict[str, Any]]
    """The run's event log."""


@dataclass(frozen=True)
class MasterLost:
    victim: str
    took: float
    """Seconds from the fault to the end of the run."""
    faulted: Outcome
    resume_args: tuple[str, ...]
    resumed: Outcome
    health: Health


@dataclass(frozen=True)
class ForeignWorker:
    victim: str
    before: str
    """sha256sum of the foreign kubelet.conf as placed, and after the refused run:"""
    after: str
    refused: Outcome
    resumed: Outcome
    health: Health


@dataclass
class SharedCluster:
    cluster: Cluster
    stand_ins: dict[ImageRef, str]
    """Every image of the cluster's image list as a busybox STAND-IN: its manifest digest."""
    users: set[str]
    """The tests of this session still to use the cluster (node ids)."""
    release: Callable[[], Awaitable[None]]
    """Cleans the hosts and gives them back to the pool (once; later calls do nothing)."""
    fresh: Once[FreshRun] = field(init=False)
    master_lost_mid_join: Once[MasterLost] = field(init=False)
    foreign_worker: Once[ForeignWorker] = field(init=False)
    final_rerun: Once[Outcome] = field(init=False)

    def __post_init__(self) -> None:
        self.fresh = Once(self._fresh)
        self.master_lost_mid_join = Once(self._master_lost_mid_join)
        self.foreign_worker = Once(self._foreign_worker)
        self.final_rerun = Once(self._final_rerun)

    @property
    def names(self) -> list[str]:
        """The five cluster nodes (the sixth host is the registry's)."""
        return self.cluster.hosts.names[:5]

    async def run(self, *extra: str) -> Outcome:
        return Outcome(*await self.cluster.run("-o", "json", *extra))

    def health(self) -> Health:
        readyz = self.cluster.kubectl("get", "--raw", "/readyz")
        listed = self.cluster.kubectl("get", "nodes", "-o", "json")
        items = json.loads(listed.stdout)["items"] if listed.returncode == 0 else []
        return Health(
            (readyz.returncode, readyz.stdout.strip(), readyz.stderr),
            sorted(n["metadata"]["name"] for n in items),
            sorted(
                n["metadata"]["name"]
                for n in items
                if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"]
            ),
        )

    async def _fresh(self) -> FreshRun:
        runs = self.cluster.work / "runs"
        before = set(runs.glob("*.jsonl"))
        outcome = await self.run()
        (log,) = set(runs.glob("*.jsonl")) - before
        return FreshRun(outcome, events(log))

    async def _master_lost_mid_join(self) -> MasterLost:
        await self.fresh()
        victim = self.cluster.hosts.names[2]  # the last master to join
        await self.cluster.hosts.run(victim, RESET)
        join = f"create-cluster/control-plane/join-{victim}"
        runs = self.cluster.work / "runs"
        before = set(runs.glob("*.jsonl"))
        run = await self.cluster.start("-o", "json")

        def join_begun() -> bool:
            return any(
                e["event"] == "started"
                and e.get("node", "").startswith(f"{join}/")
                and e.get("host") == victim
                for log in set(runs.glob("*.jsonl")) - before
                for e in events(log)
            )

        deadline = time.monotonic() + REACH_JOIN
        while not join_begun():
            if run.returncode is not None or time.monotonic() > deadline:
                out, err = await run.communicate()
                raise AssertionError(
                    f"the run never reached {join}: exit {run.returncode}\n"
                    f"{err.decode()[-2000:]}{out.decode()[-2000:]}"
                )
            await asyncio.sleep(0.2)
        injected = time.monotonic()
        # Stop sshd and end the sessions it serves (ssh.service keeps them otherwise).
        await self.cluster.hosts.run(victim, "systemctl stop ssh && loginctl terminate-user root")
        try:
            faulted = Outcome(*await finish_within(run, FAIL_BOUND))
        finally:
            await self.cluster.hosts.run(victim, "systemctl start ssh")
        took = time.monotonic() - injected
        print(f"\nFAULT control-plane join, sshd lost: exit {faulted.code} after {took:.1f} s")
        print(faulted.err.strip()[-600:])
        resume_args: tuple[str, ...] = ("--resume",)
        if "--break-lock" in faulted.err:
            resume_args = ("--resume", "--break-lock")
        resumed = await self.run(*resume_args)
        return MasterLost(victim, took, faulted, resume_args, resumed, self.health())

    async def _foreign_worker(self) -> ForeignWorker:
        await self.fresh()
        hosts = self.cluster.hosts
        victim = hosts.names[4]
        other = self.cluster.directory / "other-pki"
        if not other.exists():
            options = PkiOptions(key_type="ecdsa")
            generate_pki(load_config(self.cluster.file), other, options=options)
        foreign = (other / "kubeconfig" / f"kubelet-{victim}.conf").read_text()
        # A worker kubeadm once joined to another cluster: its kubelet.conf trusts another CA.
        await hosts.run(
            victim,
            f"{RESET}\nmkdir -p /etc/kubernetes && "
            f"cat > /etc/kubernetes/kubelet.conf <<'EOF'\n{foreign}EOF",
        )
        before = await hosts.run(victim, "sha256sum /etc/kubernetes/kubelet.conf")
        refused = await self.run()
        after = await hosts.run(victim, "sha256sum /etc/kubernetes/kubelet.conf")
        await hosts.run(victim, "rm /etc/kubernetes/kubelet.conf")
        resumed = await self.run("--resume")
        return ForeignWorker(victim, before, after, refused, resumed, self.health())

    async def _final_rerun(self) -> Outcome:
        # Whatever the stages' outcome (each test that needs one reports it): then the rerun.
        for stage in (self.fresh, self.master_lost_mid_join, self.foreign_worker):
            with contextlib.suppress(AssertionError):
                await stage()
        return await self.run()


def calico_release(directory: Path) -> ReleaseFile:
    """Calico's source archive holding the upstream manifest of the BOM's version."""
    archive = tar_gz(
        directory / f"calico-{CALICO}.tar.gz",
        {
            f"calico-{CALICO[1:]}/manifests/calico.yaml": (
                (FIXTURES / f"calico-{CALICO}.yaml").read_bytes(),
                0o644,
            )
        },
    )
    return ReleaseFile("calico-manifests", archive, CALICO, sha256(archive))


CALICOCTL_STAND_IN = """\
#!/bin/sh
# calicoctl STAND-IN (kubexms tests): the BOM's calicoctl is fetched and placed on the masters,
# but nothing kubexms runs calls it; this file only takes its place, and refuses to act.
echo "calicoctl: kubexms test stand-in, not the real calicoctl" >&2
exit 1
"""


def tool_releases(directory: Path) -> list[ReleaseFile]:
    """What the BOM fetches beside the doubles: Calico's source archive holding the upstream
    manifest of the BOM's version, the helm double (as helm's release archive; no add-on here
    uses helm) and the calicoctl stand-in (nothing runs it)."""
    helm = tar_gz(
        directory / f"helm-{HELM}-linux-amd64.tar.gz",
        {"linux-amd64/helm": (double_script("helm").read_bytes(), 0o755)},
    )
    calicoctl = directory / "calicoctl-linux-amd64"
    calicoctl.write_text(CALICOCTL_STAND_IN)
    calicoctl.chmod(0o755)
    return [
        calico_release(directory),
        ReleaseFile("helm", helm, HELM, sha256(helm)),
        ReleaseFile("calicoctl", calicoctl, CALICO, sha256(calicoctl)),
    ]


def stand_in_images(file: Path, directory: Path) -> dict[ImageRef, str]:
    """Every image the cluster's image list names, as the busybox STAND-IN image, in the store
    the run uses (the registry phase pushes what the store holds); their manifest digests."""
    cluster = load_config(file)
    images = ImageStore(ArtifactStore.for_cluster(cluster))
    digests = {}
    for index, image in enumerate(cluster_images(cluster)):
        (directory / f"stand-in-{index}").mkdir(parents=True)
        built = build_busybox_image(directory / f"stand-in-{index}", image.ref.name)
        images.add(image.ref, built.path, image.roles)
        digests[image.ref] = built.digest
    return digests


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def kubeadm_shared_session(
    fleet_pool: HostPool,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> AsyncIterator[SharedCluster]:
    """The session's one kubeadm cluster. Tests take it through ``kubeadm_shared``, which gives
    its hosts back (cleaned) once the last test of the session that needs it is done."""
    directory = tmp_path_factory.mktemp("kubeadm-shared")
    manifest = directory / "demo.yaml"
    manifest.write_text(DEMO_MANIFEST)
    (directory / "releases").mkdir()

    def shape(document: dict[str, Any]) -> None:
        spec = document["spec"]
        document["metadata"]["name"] = "full-test"
        spec["network"] = {"plugin": "calico"}
        spec["addons"] = [{"name": "demo", "type": "manifest", "manifests": [str(manifest)]}]

    async with contextlib.AsyncExitStack() as stack:
        cluster = kubeadm_cluster(
            fleet_pool, directory, __name__, registry_host=True, only=None,
            releases=tool_releases(directory / "releases"), edit=shape,
        )  # fmt: skip
        made = await stack.enter_async_context(cluster)
        stand_ins = stand_in_images(made.file, directory / "images")
        users = {
            item.nodeid
            for item in request.session.items
            if "kubeadm_shared" in getattr(item, "fixturenames", ())
        }
        yield SharedCluster(made, stand_ins, users, stack.aclose)


@pytest_asyncio.fixture(loop_scope="session")
async def kubeadm_shared(
    kubeadm_shared_session: SharedCluster, request: pytest.FixtureRequest
) -> AsyncIterator[SharedCluster]:
    """The shared cluster for one test; after the session's last test that uses it, its hosts
    are cleaned and given back to the pool (other modules may need them), not held to the end
    of the session."""
    yield kubeadm_shared_session
    kubeadm_shared_session.users.discard(request.node.nodeid)
    if not kubeadm_shared_session.users:
        await kubeadm_shared_session.release()


HOST_LOST = re.compile(r"connection|closed|lost|reset|refused|unreachable", re.IGNORECASE)
"""How an error says the connection to a host was lost."""
