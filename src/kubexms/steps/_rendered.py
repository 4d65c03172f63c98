"""What a step would put on a host, said without reaching the host (``kubexms render``).

One mechanism: a step that places files answers ``rendered_files(ctx)`` with
:class:`RenderedFile` entries, computed from the cluster file (and the cluster PKI on the
control machine) alone. ``content`` None marks a secret: a reviewer sees that the file is
placed, where, with which mode, and from where, never its bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from kubexms.config import Cluster
    from kubexms.config._resolved import ResolvedHost

SECRET_MARKER = "<kubexms: secret, not rendered>"  # noqa: S105  (a marker, not a password)


@dataclass(frozen=True)
class RenderContext:
    """What rendering knows of one host: the cluster file, the host as the file resolves it,
    and the cluster PKI directory on the control machine (it may not exist yet)."""

    cluster: Cluster
    host: ResolvedHost
    pki_dir: Path


@dataclass(frozen=True)
class RenderedFile:
    """A file a step would place: ``content`` None for a secret (``source`` says where its
    bytes come from); ``whole`` False for a block the step manages inside a larger file."""

    path: str
    content: bytes | None = field(repr=False)
    mode: int = 0o644
    source: str = ""
    whole: bool = True

    def shown(self) -> bytes:
        """The bytes a reviewer is shown: the content, or a marker line naming the source."""
        if self.content is not None:
            return self.content
        where = f" ({self.source})" if self.source else ""
        return f"{SECRET_MARKER}{where}\n".encode()


@runtime_checkable
class PlacesFiles(Protocol):
    """A step that can say which files it would place on a host, without reaching it."""

    def rendered_files(self, ctx: RenderContext) -> Sequence[RenderedFile]: ...
