"""Building blocks: the Steps every component is made of.

- ``PlaceArtifact``: a file from the artifact store on a host (a binary with its mode, or an
  archive extracted), verified by sha256 there, skipped when already in place.
- ``PlacePKIFiles`` / ``PKIFile``: certificates (0644), keys and kubeconfigs (0600) from the
  cluster PKI, written atomically, contents never in plans or logs.
- ``SystemdService`` / ``ServiceFile`` / ``Health``: a unit, its drop-ins and its config
  files; daemon-reload and restart only when they changed; then active and healthy (a command
  or a port), the unit's last journal lines on failure. ``RestartService`` and ``rolling``
  restart a group one host at a time. A ServiceFile may instead reload the service, and may be
  validated by the daemon (``haproxy -c -f {path}``) before it replaces the running one.
- ``Directory`` (path, mode, owner) and ``HostsEntries`` (a named block of /etc/hosts lines,
  ``@self`` for the host's own address).
- ``ComponentModule`` (with ``pki_items``): a component phase declares the artifacts, PKI
  items and host roles it asks of the foundation phases (``create cluster --only``).
- ``ArtifactsModule``: the ``artifacts`` phase (fetch into the store, place on hosts);
  ``distribute``: an explicit artifact plan into the cache of the hosts that need it, as
  Engine steps (upload slots, retries, events).

- ``RenderedFile`` / ``RenderContext`` / ``PlacesFiles``: the one way a step says which files
  it would place on a host without reaching it (``rendered_files(ctx)``; ``kubexms render``).

Each has a read-only precheck that says what would change, in one round trip.
"""

from kubexms.steps._archive_digests import ArchiveContentError
from kubexms.steps._artifact import PlaceArtifact
from kubexms.steps._basics import THIS_HOST, Directory, HostsEntries
from kubexms.steps._component import ComponentModule, pki_item, pki_items
from kubexms.steps._distribution import ArtifactsModule, distribute
from kubexms.steps._pki import PKIFile, PKIFileError, PlacePKIFiles, default_mode, kubeadm_layout
from kubexms.steps._rendered import SECRET_MARKER, PlacesFiles, RenderContext, RenderedFile
from kubexms.steps._rolling import one_after_another, rolling
from kubexms.steps._service import RestartService, SystemdService
from kubexms.steps._service_files import ServiceFile, ServiceFileInvalidError
from kubexms.steps._unit_state import (
    PENDING_DIRECTORY,
    RELOAD_PENDING_DIRECTORY,
    Health,
    ServiceUnhealthyError,
    wait_healthy,
)

__all__ = [
    "PENDING_DIRECTORY",
    "RELOAD_PENDING_DIRECTORY",
    "SECRET_MARKER",
    "THIS_HOST",
    "ArchiveContentError",
    "ArtifactsModule",
    "ComponentModule",
    "Directory",
    "Health",
    "HostsEntries",
    "PKIFile",
    "PKIFileError",
    "PlaceArtifact",
    "PlacePKIFiles",
    "PlacesFiles",
    "RenderContext",
    "RenderedFile",
    "RestartService",
    "ServiceFile",
    "ServiceFileInvalidError",
    "ServiceUnhealthyError",
    "SystemdService",
    "default_mode",
    "distribute",
    "kubeadm_layout",
    "one_after_another",
    "pki_item",
    "pki_items",
    "rolling",
    "wait_healthy",
]
