"""Engine benchmark: plan and execute a 20-step pipeline over many in-memory hosts.

Each host is a MemoryConnector (no network): every step asks its precheck (one command) and
runs (one command), so the numbers are the engine's own cost: planning, scheduling under the
concurrency limit, contexts, events (summary and checkpoint on), per (step, host) pair. Each
size runs in a fresh process so its memory is its own. Time and memory per host must stay
flat as the fleet grows (linear growth overall):

    python benchmarks/engine.py                 # 500, 1000 and 5000 hosts
    python benchmarks/engine.py --sizes 100 20000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from kubexms.engine import (
    AllHosts,
    CheckpointKey,
    CheckpointWriter,
    Engine,
    EngineOptions,
    EventBus,
    Module,
    Pipeline,
    Roles,
    Step,
    SummaryCollector,
    Task,
    config_fingerprint,
)
from kubexms.runner import Change
from kubexms.runtime import Context
from kubexms.testing import cluster_of, memory_runtime

STEPS = 20


@dataclass(frozen=True)
class Probe(Step):
    """Precheck: one command (answer "todo"); run: one command."""

    name: str

    async def precheck(self, ctx: Context) -> bool:
        return (await ctx.runner.run(f"check {self.name}")).stdout == "done"

    async def run(self, ctx: Context) -> Change | None:
        await ctx.runner.run(f"apply {self.name}")
        return Change(True, self.name)


def answer(host: str, command: str, stdin: bytes) -> str:
    return "todo" if command.startswith("check") else "ok"


def pipeline() -> Pipeline:
    """20 steps: a 4-step chain, two parallel 5-step branches, then 6 steps on workers."""
    steps = iter(Probe(f"s{index:02d}") for index in range(STEPS))
    return Pipeline(
        "bench",
        [
            Module("prepare", [Task("base", [next(steps) for _ in range(4)], AllHosts())]),
            Module(
                "components",
                [
                    Task("left", [next(steps) for _ in range(5)], AllHosts(), after=()),
                    Task("right", [next(steps) for _ in range(5)], AllHosts(), after=()),
                ],
            ),
            Module("finish", [Task("workers", list(steps), Roles("worker", "master"))]),
        ],
    )


def rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def measure(hosts: int) -> dict[str, float]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    gc.collect()
    baseline = rss_kib()
    started = time.perf_counter()
    config = cluster_of(hosts, masters=3)
    runtime = await memory_runtime(config, answer)
    ready = time.perf_counter()
    graph = pipeline().plan(config)
    planned = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        key = CheckpointKey(graph.pipeline, config_fingerprint(config), graph.fingerprint())
        checkpoint = CheckpointWriter.create(Path(directory) / "bench.jsonl", key)
        collector = SummaryCollector()
        engine = Engine(runtime, EngineOptions(), EventBus(collector), checkpoint=checkpoint)
        result = await engine.run(graph)
        checkpoint.close()
    done = time.perf_counter()
    assert result.succeeded, result.failures[:3]
    assert result.counts == {"changed": STEPS * hosts}, result.counts
    assert len(collector.summary.hosts) == hosts
    return {
        "hosts": hosts,
        "pairs": graph.pair_count(),
        "runtime_s": ready - started,
        "plan_s": planned - ready,
        "execute_s": done - planned,
        "rss_kib": rss_kib() - baseline,
    }


def run_one(hosts: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--one", str(hosts)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{hosts} hosts failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 5000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(measure(args.one))))
        return
    rows = [run_one(size) for size in args.sizes]
    print(
        f"{'hosts':>6} {'pairs':>7} {'runtime s':>9} {'plan s':>7} {'execute s':>9} "
        f"{'ms/host':>8} {'us/pair':>8} {'RSS MiB':>8} {'KiB/host':>9}"
    )
    for row in rows:
        total = row["plan_s"] + row["execute_s"]
        print(
            f"{row['hosts']:>6} {row['pairs']:>7} {row['runtime_s']:>9.2f} {row['plan_s']:>7.3f} "
            f"{row['execute_s']:>9.2f} {1000 * total / row['hosts']:>8.2f} "
            f"{1e6 * total / row['pairs']:>8.1f} {row['rss_kib'] / 1024:>8.1f} "
            f"{row['rss_kib'] / row['hosts']:>9.1f}"
        )
    first, last = rows[0], rows[-1]
    time_ratio = ((last["plan_s"] + last["execute_s"]) / last["hosts"]) / (
        (first["plan_s"] + first["execute_s"]) / first["hosts"]
    )
    memory_ratio = (last["rss_kib"] / last["hosts"]) / max(first["rss_kib"] / first["hosts"], 1e-9)
    verdict = "linear" if time_ratio < 1.5 and memory_ratio < 1.5 else "NOT linear"
    print(
        f"per-host cost at {last['hosts']} vs {first['hosts']} hosts: time x{time_ratio:.2f}, "
        f"memory x{memory_ratio:.2f} -> {verdict}"
    )


if __name__ == "__main__":
    main()
