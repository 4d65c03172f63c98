"""The shared doubles core (tests/doubles/doubles_core) wherever this package runs: as
``tests.doubles.doubles_core`` in the checkout's tests, as the top-level ``doubles_core`` beside
this package in a release file or when the double runs as a script."""

from __future__ import annotations

try:
    from ..doubles_core import api, cni, files, flags, schema
except ImportError:  # a top-level package here: the core is a top-level package beside it
    from doubles_core import api, cni, files, flags, schema  # type: ignore[no-redef,import-not-found]

ApiError = api.ApiError
Client = api.Client
KubeconfigError = api.KubeconfigError
from_kubeconfig = api.from_kubeconfig
peer_chain = api.peer_chain
host = files.host
root = files.root
write = files.write

__all__ = [
    "ApiError",
    "Client",
    "KubeconfigError",
    "api",
    "cni",
    "files",
    "flags",
    "from_kubeconfig",
    "host",
    "peer_chain",
    "root",
    "schema",
    "write",
]
