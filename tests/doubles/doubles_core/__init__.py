"""What the doubles of the Kubernetes binaries share (tests only, never shipped).

Run by the hosts' ``/usr/bin/python3`` with the standard library and Debian's python3-yaml:
``files`` (host paths, atomic writes), ``schema`` (the strict configuration schemas of
tests/fixtures/k8s_schemas), ``flags`` (a component's flags for its version, from kubexms's own
flag lists), ``api`` (the API server over TLS as a kubeconfig's user), ``cni`` (what a CNI
DaemonSet's install-cni container writes on a node) and ``csr`` (the controller-manager's CSR
approval, after a SubjectAccessReview, and signing).

In the checkout this is ``tests.doubles.doubles_core``; in a double's release file (a zipapp)
and when a double runs as a script it is the top-level package ``doubles_core`` beside the
double's own package, which imports it through its ``_core`` module.

The names below are what the doubles' packages use of it (their ``_core`` re-exports them).
"""

from __future__ import annotations

from . import api, cni, csr, files, flags, schema

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
    "csr",
    "files",
    "flags",
    "from_kubeconfig",
    "host",
    "peer_chain",
    "root",
    "schema",
    "write",
]
