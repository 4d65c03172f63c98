"""Planning the binary-mode modules alone (the pipeline's other phases are not needed here)."""

from __future__ import annotations

from kubexms.config import Cluster
from kubexms.engine import ExecutionGraph, Module, Pipeline


def plan_binary(cluster: Cluster, *modules: Module) -> ExecutionGraph:
    """The graph of ``modules`` for ``cluster``, in a pipeline named like create cluster's."""
    return Pipeline("create-cluster", modules).plan(cluster)
