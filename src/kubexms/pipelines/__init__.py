"""Pipelines: the ordered modules behind each command that changes a cluster.

``InitOSPipeline`` (``kubexms init os``): preflight, then OS preparation.
"""

from kubexms.pipelines._init_os import InitOSPipeline

__all__ = ["InitOSPipeline"]
