"""Pipelines: the ordered modules behind each command that changes a cluster.

``InitOSPipeline`` (``kubexms init os``): preflight, then OS preparation.
``CreateClusterPipeline`` (``kubexms create cluster``): the phases of a cluster, ``PHASES``;
``PhaseSelection`` resolves ``--only`` / ``--skip``.
"""

from kubexms.pipelines._create_cluster import (
    AVAILABLE,
    PHASES,
    CreateClusterPipeline,
    PhaseSelection,
    PhaseSelectionError,
)
from kubexms.pipelines._init_os import InitOSPipeline

__all__ = [
    "AVAILABLE",
    "PHASES",
    "CreateClusterPipeline",
    "InitOSPipeline",
    "PhaseSelection",
    "PhaseSelectionError",
]
