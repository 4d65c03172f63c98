"""kubexms: one declarative cluster.yaml to a running Kubernetes cluster, over SSH."""

__version__ = "0.1.0"

from kubexms._errors import KubexmsError

__all__ = ["KubexmsError", "__version__"]
