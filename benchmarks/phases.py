"""Phase benchmark: ``kubexms create cluster --only PHASE`` on fresh hosts, then as a rerun.

For each of ``--repeat`` rounds a fresh fleet of ``--hosts`` systemd hosts is started
(``kubexms sandbox``), prepared with ``kubexms init os`` (not timed), and then timed:

  first   ``create cluster --only etcd``: fetch etcd's tarball (file://, pinned by sha256),
          make the PKI, place binaries and certificates, start a 3-member TLS etcd, wait until
          every member is healthy
  rerun   the same command again: every step checks and changes nothing
  unrecorded  the rerun once more after deleting the digest records on the hosts
          (/var/lib/kubexms/digests): every placed file is hashed again, as before the
          records existed; the ratio rerun/unrecorded is measured within one round

With ``--phase loadbalancer``: an ``internal`` haproxy on the two workers over the master
(``kubexms-lb.service`` with its validated config, the endpoint's name in /etc/hosts on every
host); haproxy comes from Debian's .debs, served offline from this machine and installed by
``init os`` (not timed), as the phase declares.

With ``--phase container-runtime``: containerd 1.6.20, runc 1.1.5, the CNI plugins and a crictl
test double (Debian's packages in the upstream release layouts, the tests' fixture) placed on
every host, containerd.service started with its config.toml, healthy when its CRI plugin is up.

Wall time and the client's CPU (user + system of the kubexms process) are measured around
the command; the medians are printed (targets on the 2-core machine: first <= 15 s, rerun
<= 3 s with 0 changes). etcd is Debian's 3.4.23 in etcd's release layout (the tests'
fixture), downloaded with ``apt-get download`` once into ``KUBEXMS_TEST_DEB_DIR``.

Needs root:

    python benchmarks/phases.py [--phase etcd|container-runtime|loadbalancer] [--hosts 3]
        [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubexms.sandbox import fleet_down, fleet_up
from kubexms.steps._probe import DIGESTS_DIRECTORY

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fixtures.artifacts.etcd_release import EtcdRelease, build_etcd_release
from tests.fixtures.artifacts.runtime_release import RuntimeReleases, build_runtime_releases
from tests.fixtures.offline_debs import LOAD_BALANCER_PACKAGES, NODE_PACKAGES, offline_debs

# Bytecode caches as an installed package has them (pip compiles a wheel's modules): a shell
# with PYTHONDONTWRITEBYTECODE set would otherwise time compiling kubexms from source too.
INSTALLED_LIKE_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@dataclass
class Sample:
    wall: float
    cpu: float
    changed: int


def kubexms(*args: str) -> Sample:
    """Run kubexms with ``args`` and ``-o json``; its wall time, CPU and changed pairs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "kubexms", *args, "-o", "json"],
        capture_output=True,
        text=True,
        env=INSTALLED_LIKE_ENV,
        check=False,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"kubexms {' '.join(args)} failed:\n{result.stderr}\n{result.stdout}")
    document: dict[str, Any] = json.loads(result.stdout)
    changed = sum(counts["changed"] for counts in document["hosts"].values())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(wall, cpu, changed)


def cluster_file(fleet_file: Path, directory: Path, release: EtcdRelease) -> Path:
    document: dict[str, Any] = yaml.safe_load(fleet_file.read_text())
    names = [host["name"] for host in document["spec"]["hosts"]]
    document["metadata"]["name"] = "bench-etcd"
    document["spec"]["roleGroups"] = {"master": names[:1], "etcd": names, "worker": []}
    document["spec"]["global"]["workDir"] = str(directory / "work")
    document["spec"]["etcd"] = {"version": release.version}
    document["spec"]["artifacts"] = {
        "overrides": {
            "etcd": {"url": f"file://{release.path}", "sha256": {"amd64": release.sha256}}
        }
    }
    path = directory / "cluster.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def runtime_cluster_file(fleet_file: Path, directory: Path, releases: RuntimeReleases) -> Path:
    document: dict[str, Any] = yaml.safe_load(fleet_file.read_text())
    names = [host["name"] for host in document["spec"]["hosts"]]
    document["metadata"]["name"] = "bench-runtime"
    document["spec"]["roleGroups"] = {"master": names[:1], "etcd": names[:1], "worker": names[1:]}
    document["spec"]["global"]["workDir"] = str(directory / "work")
    document["spec"].setdefault("kubernetes", {})["containerRuntime"] = {
        "version": releases.containerd.version
    }
    document["spec"]["artifacts"] = {"overrides": releases.overrides()}
    path = directory / "cluster.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def loadbalancer_cluster_file(fleet_file: Path, directory: Path) -> Path:
    document: dict[str, Any] = yaml.safe_load(fleet_file.read_text())
    names = [host["name"] for host in document["spec"]["hosts"]]
    document["metadata"]["name"] = "bench-loadbalancer"
    document["spec"]["roleGroups"] = {"master": names[:1], "etcd": names[:1], "worker": names[1:]}
    document["spec"]["global"]["workDir"] = str(directory / "work")
    document["spec"]["controlPlaneEndpoint"] = {
        "domain": "lb.bench.local",
        "port": 6443,
        "loadBalancer": {"type": "internal", "kind": "haproxy"},
    }
    path = directory / "cluster.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def one_round(
    phase: str, hosts: int, root: Path, release: EtcdRelease | RuntimeReleases | None, debs: Path
) -> tuple[Sample, Sample, Sample]:
    import asyncio

    directory = Path(tempfile.mkdtemp(prefix="round-", dir=root))
    fleet_dir = directory / "fleet"
    fleet = asyncio.run(fleet_up(hosts, fleet_dir, init="systemd"))
    try:
        packages = ["--download-packages", "--packages-dir", str(debs)]
        if isinstance(release, EtcdRelease):
            path = cluster_file(fleet.cluster_file, directory, release)
        elif release is not None:
            path = runtime_cluster_file(fleet.cluster_file, directory, release)
        else:
            path = loadbalancer_cluster_file(fleet.cluster_file, directory)
            packages = ["--packages-dir", str(debs)]  # filled by main(), exactly what hosts lack
        kubexms("init", "os", "-f", str(path), *packages)
        create = ["create", "cluster", "-f", str(path), "--only", phase, *packages]
        first = kubexms(*create)
        rerun = kubexms(*create)
        for host in fleet.hosts:
            asyncio.run(fleet.host_exec(host.name, f"rm -rf -- {DIGESTS_DIRECTORY}"))
        unrecorded = kubexms(*create)
        return first, rerun, unrecorded
    finally:
        asyncio.run(fleet_down(fleet_dir))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--phase", choices=["etcd", "container-runtime", "loadbalancer"], default="etcd"
    )
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root: the simulated fleet uses namespaces, mounts and bridges")
    import kubexms

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(kubexms.__file__).parent)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with tempfile.TemporaryDirectory(prefix="kxms-bench-phases-") as temporary:
        root = Path(temporary)
        debs = root / "debs"
        release: EtcdRelease | RuntimeReleases | None = None
        if options.phase == "etcd":
            release = build_etcd_release(root)
        elif options.phase == "container-runtime":
            release = build_runtime_releases(root)
        else:
            offline_debs(debs, [*NODE_PACKAGES, *LOAD_BALANCER_PACKAGES])
        rounds = []
        for index in range(options.repeat):
            samples = one_round(options.phase, options.hosts, root, release, debs)
            shown = "; ".join(
                f"{label} {s.wall:.2f}s wall {s.cpu:.2f}s cpu ({s.changed} changed)"
                for label, s in zip(("first", "rerun", "unrecorded"), samples, strict=True)
            )
            print(f"round {index + 1}: {shown}; load {os.getloadavg()[0]:.2f}", flush=True)
            rounds.append(samples)
    print(
        f"\ncreate cluster --only {options.phase}, {options.hosts} hosts, "
        f"median of {options.repeat}:"
    )
    print("| run | wall s | client CPU s | changed (step, host) pairs |")
    print("|---|---|---|---|")
    runs = (
        ("first (fresh hosts, after init os)", 0),
        ("rerun", 1),
        ("rerun without digest records (every file hashed)", 2),
    )
    for label, index in runs:
        column = [each[index] for each in rounds]
        wall = statistics.median(s.wall for s in column)
        cpu = statistics.median(s.cpu for s in column)
        changed = statistics.median(s.changed for s in column)
        print(f"| {label} | {wall:.2f} | {cpu:.2f} | {changed:g} |")


if __name__ == "__main__":
    main()
