"""``kubexms render``: every file the phases would place on each host, and the steps they would
run, written to a directory without reaching any host.

The ``create cluster`` pipeline is planned for the phases that exist (``AVAILABLE``); each
planned step that places files says which (``kubexms.steps.PlacesFiles``) and they are written
to ``<out>/<host>/<absolute path>``; secrets (keys, kubeconfigs, secret service files) are a
marker line naming where their bytes come from. ``<out>/<host>.steps`` lists, in plan order,
every step the host would run and every file placed with its mode. Nothing here opens a
connection: planning reads the cluster file only.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from kubexms._errors import KubexmsError
from kubexms.config import Cluster
from kubexms.pipelines._create_cluster import AVAILABLE, CreateClusterPipeline, PhaseSelection
from kubexms.pki import default_pki_directory
from kubexms.steps import PlacesFiles, RenderContext, RenderedFile

STEPS_SUFFIX = ".steps"


class RenderError(KubexmsError):
    """The hosts asked for are not in the cluster file, or the output cannot be written."""


@dataclass
class HostRender:
    """What one host would get: its steps in plan order and its files by path."""

    host: str
    steps: list[str] = field(default_factory=list)
    files: dict[str, RenderedFile] = field(default_factory=dict)
    blocks: dict[str, list[RenderedFile]] = field(default_factory=dict)

    def add(self, rendered: RenderedFile) -> None:
        if rendered.whole:
            self.files[rendered.path] = rendered
        else:
            self.blocks.setdefault(rendered.path, []).append(rendered)


def plan_files(
    cluster: Cluster, hosts: Collection[str] | None = None, pki_dir: Path | None = None
) -> dict[str, HostRender]:
    """Host -> what it would get from ``create cluster`` (the phases that exist), in config
    order; ``hosts`` limits it to those (RenderError naming any unknown one)."""
    resolved = {host.name: host for host in cluster.resolved_hosts()}
    if hosts:
        unknown = [name for name in hosts if name not in resolved]
        if unknown:
            raise RenderError(
                f"host(s) {', '.join(unknown)} are not in the cluster file "
                f"(its hosts: {', '.join(resolved)})"
            )
    wanted = [name for name in resolved if not hosts or name in hosts]
    directory = pki_dir or default_pki_directory(cluster)
    pipeline = CreateClusterPipeline(PhaseSelection.choose(only=AVAILABLE))
    graph = pipeline.plan(cluster)
    renders = {name: HostRender(name) for name in wanted}
    for node_id in graph.order:
        node = graph.nodes[node_id]
        for host in node.hosts:
            if host not in renders:
                continue
            render = renders[host]
            render.steps.append(f"{node.id}: {node.step.describe()}")
            if isinstance(node.step, PlacesFiles):
                ctx = RenderContext(cluster, resolved[host], directory)
                for rendered in node.step.rendered_files(ctx):
                    render.add(rendered)
    return renders


def _target(root: Path, path: str) -> Path:
    relative = os.path.normpath(path).lstrip("/")
    if relative.startswith(".."):
        raise RenderError(f"{path} is not an absolute path on the host")
    return root / relative


def write_render(renders: dict[str, HostRender], out: Path) -> list[Path]:
    """Write each host's files under ``out/<host>/`` and its ``out/<host>.steps``; returns
    the files written."""
    written: list[Path] = []
    try:
        for render in renders.values():
            root = out / render.host
            lines = [f"# kubexms render: {render.host}", "", "## steps, in plan order", ""]
            lines += render.steps
            lines += ["", "## files (mode, path, what is not shown)", ""]
            for rendered in render.files.values():
                target = _target(root, rendered.path)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(rendered.shown())
                written.append(target)
                shown = "" if rendered.content is not None else f"  secret: {rendered.source}"
                lines.append(f"{rendered.mode:04o} {rendered.path}{shown}")
            for path, blocks in render.blocks.items():
                target = _target(root, path)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(b"".join(block.shown() for block in blocks))
                written.append(target)
                names = ", ".join(block.source for block in blocks)
                lines.append(f"{blocks[0].mode:04o} {path}  blocks only: {names}")
            steps = out / f"{render.host}{STEPS_SUFFIX}"
            steps.write_text("\n".join(lines) + "\n")
            written.append(steps)
    except OSError as error:
        raise RenderError(f"cannot write the render to {out}: {error}") from None
    return written
