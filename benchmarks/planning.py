"""Planning benchmark: ``kubexms plan create-cluster`` for thousands of hosts (issue 13).

A cluster file of ``--hosts`` hosts (3 masters, 3 etcd members, the rest workers; addresses in
a private range, nothing is contacted) is planned with every phase that exists today
(``--only`` all of them, which is the whole of ``create cluster`` once every phase exists).
Two measurements:

  process   the whole command in a fresh process, ``-o json``: start-up, reading and validating
            the cluster file, planning, and printing the plan (target: under 5 s for 5,000
            hosts on the 2-core machine)
  in-process  the same stages timed one by one (load the file, plan, build the JSON document),
            so a regression points at its stage

Re-run it whenever a phase lands (control-plane, workers, cni, addons): the phases planned are
read from the pipeline, so new ones are included automatically. No root, no fleet:

    python benchmarks/planning.py [--hosts 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from kubexms.pipelines._create_cluster import AVAILABLE


def cluster_document(hosts: int) -> dict[str, Any]:
    """A cluster file of ``hosts`` hosts in 10.64.0.0/12; never contacted."""
    network = ipaddress.ip_network("10.64.0.0/12")
    names = [f"node{index:05d}" for index in range(1, hosts + 1)]
    entries = [
        {"name": name, "address": str(network[index + 10]), "arch": "amd64"}
        for index, name in enumerate(names)
    ]
    return {
        "apiVersion": "kubexms.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": "bench-plan"},
        "spec": {
            "global": {"user": "root", "workDir": "/tmp/kxms-bench-plan-work"},
            "hosts": entries,
            "roleGroups": {
                "master": names[:3],
                "etcd": names[:3],
                "worker": names[3:],
            },
            "controlPlaneEndpoint": {
                "domain": "lb.bench.local",
                "port": 6443,
                "loadBalancer": {"type": "internal", "kind": "haproxy"},
            },
        },
    }


def kubexms_command() -> list[str]:
    script = Path(sys.executable).parent / "kubexms"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kubexms"]


def whole_process(path: Path, only: str) -> tuple[float, float, int]:
    """Wall and CPU seconds of one ``plan create-cluster`` process, and its (step, host) pairs."""
    argv = [*kubexms_command(), "plan", "create-cluster", "-f", str(path), "--only", only]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    before = os.times()
    started = time.monotonic()
    result = subprocess.run([*argv, "-o", "json"], capture_output=True, env=env, check=False)
    wall = time.monotonic() - started
    after = os.times()
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{result.stderr.decode()}")
    document = json.loads(result.stdout)
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu, int(document["pairs"])


def in_process(path: Path, only: str) -> dict[str, float]:
    """Seconds per stage, in this process (imports already paid)."""
    from kubexms.config import load_config
    from kubexms.engine import plan_document
    from kubexms.pipelines import CreateClusterPipeline
    from kubexms.pipelines._create_cluster import PhaseSelection

    stages: dict[str, float] = {}
    started = time.perf_counter()
    cluster = load_config(path)
    stages["load and validate"] = time.perf_counter() - started
    started = time.perf_counter()
    graph = CreateClusterPipeline(PhaseSelection.choose(only=[only])).plan(cluster)
    stages["plan"] = time.perf_counter() - started
    started = time.perf_counter()
    json.dumps(plan_document(graph))
    stages["plan document (JSON)"] = time.perf_counter() - started
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    only = ",".join(AVAILABLE)
    import kubexms

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(kubexms.__file__).parent)],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # bytecode as an installed package has it (a shell may forbid writing it)
    with tempfile.TemporaryDirectory(prefix="kxms-bench-plan-") as temporary:
        path = Path(temporary) / "cluster.yaml"
        path.write_text(yaml.safe_dump(cluster_document(options.hosts), sort_keys=False))
        samples = []
        for index in range(options.repeat):
            wall, cpu, pairs = whole_process(path, only)
            load = os.getloadavg()[0]
            print(
                f"round {index + 1}: {wall:.2f}s wall {cpu:.2f}s cpu, {pairs} pairs, "
                f"load {load:.2f}",
                flush=True,
            )
            samples.append((wall, cpu, pairs))
        stages = [in_process(path, only) for _ in range(options.repeat)]
    print(
        f"\nplan create-cluster --only {only}\n{options.hosts} hosts, median of {options.repeat}:"
    )
    print("| measurement | seconds |")
    print("|---|---|")
    print(f"| whole process, wall | {statistics.median(s[0] for s in samples):.2f} |")
    print(f"| whole process, CPU | {statistics.median(s[1] for s in samples):.2f} |")
    for stage in stages[0]:
        print(f"| in process: {stage} | {statistics.median(s[stage] for s in stages):.2f} |")
    print(f"| (step, host) pairs planned | {samples[0][2]} |")


if __name__ == "__main__":
    main()
