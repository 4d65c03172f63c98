"""ComponentModule: a component phase declares what it asks of the foundation phases.

``create cluster --only PHASE`` limits the foundation phases (preflight, os, artifacts, pki)
to what the named component phases need: which artifacts to fetch and place, which items of
the cluster PKI to make, which hosts to check and prepare. A component module says so in a
few declarations instead of three hand-written methods each:

- ``artifacts``: the BOM components it places (class attribute), or ``artifacts_for(cluster)``
  where they depend on the cluster file (the CNI plugin, helm for a helm add-on);
- ``roles``: the roles of the hosts it works on (class attribute), or ``roles_for(cluster)``
  where they depend on it (the load balancer's type);
- ``installs(cluster)``: whether it installs anything for this cluster file (etcd of another
  ``type``, Kubernetes of another mode, no registry to run: then it asks for no artifact, no
  certificate and no host);
- ``certificates(cluster)``: the PKI items it needs, usually :func:`pki_items` of the files it
  places on each host.

``artifact_components``, ``pki_names`` and ``host_roles`` (what the pipeline asks) follow from
them; they stay callable on the class, as planning and tests call them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from kubexms.config import Cluster
from kubexms.engine import Module
from kubexms.steps._pki import PKIFile


def pki_item(source: str) -> str:
    """The cluster PKI item a file comes from (``etcd/server-m1.key`` -> ``etcd/server-m1``,
    ``kubeconfig/admin.conf`` -> ``admin``, ``sa.pub`` -> ``sa``, the service-account pair)."""
    if source.startswith("kubeconfig/"):
        return source.removeprefix("kubeconfig/").removesuffix(".conf")
    return source.rsplit(".", 1)[0]


def pki_items(placed: Iterable[tuple[str, Iterable[PKIFile]]]) -> frozenset[str]:
    """The PKI items of the files placed on hosts: ``(host, files)`` pairs, ``{host}`` in a
    file's source standing for that host."""
    return frozenset(pki_item(item.source_for(host)) for host, files in placed for item in files)


class ComponentModule(Module):
    """A component phase (see the module docstring): declare ``artifacts`` and ``roles``,
    override ``installs``, ``certificates``, ``artifacts_for`` and ``roles_for`` where they
    depend on the cluster file."""

    artifacts: ClassVar[tuple[str, ...]] = ()
    roles: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def installs(cls, cluster: Cluster) -> bool:
        """Whether this phase installs anything for ``cluster`` (default: always)."""
        return True

    @classmethod
    def certificates(cls, cluster: Cluster) -> Iterable[str]:
        """The cluster PKI items this phase needs when it installs (default: none)."""
        return ()

    @classmethod
    def artifacts_for(cls, cluster: Cluster) -> Iterable[str]:
        """The BOM components this phase places when it installs (default: ``artifacts``)."""
        return cls.artifacts

    @classmethod
    def roles_for(cls, cluster: Cluster) -> Iterable[str]:
        """The roles of the hosts this phase works on when it installs (default: ``roles``)."""
        return cls.roles

    @classmethod
    def artifact_components(cls, cluster: Cluster) -> frozenset[str]:
        """What the artifacts phase must fetch and place for this phase."""
        return frozenset(cls.artifacts_for(cluster)) if cls.installs(cluster) else frozenset()

    @classmethod
    def pki_names(cls, cluster: Cluster) -> frozenset[str]:
        """What the pki phase must make for this phase."""
        return frozenset(cls.certificates(cluster)) if cls.installs(cluster) else frozenset()

    @classmethod
    def host_roles(cls, cluster: Cluster) -> frozenset[str]:
        """The roles of the hosts this phase works on (preflight and OS prep cover them)."""
        return frozenset(cls.roles_for(cluster)) if cls.installs(cluster) else frozenset()
