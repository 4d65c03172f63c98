"""The images a cluster needs (``data/images.yaml``), and image references.

An image is named by a full reference, ``registry/repository:tag`` (``docker.io`` made
explicit). With a private registry (``spec.registry.privateRegistry``, ``host[:port][/path]``)
every image is pulled from there under the same repository path: ``registry.k8s.io/pause:3.10``
becomes ``reg.example:5000/pause:3.10`` (``reg.example:5000/mirror/pause:3.10`` with a path).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from kubexms.artifacts._bom import minor_of, normalize_version
from kubexms.artifacts._errors import BomError
from kubexms.config import Cluster
from kubexms.config._hosts import unknown_roles

_REFERENCE = re.compile(
    r"(?P<name>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+(?=/))?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)


# The BOM is parsed by every command that plans: libyaml's safe loader where PyYAML has it
# (several times faster than the pure-Python one; the same safe types).
_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)


@dataclass(frozen=True, order=True)
class ImageRef:
    """``registry``/``repository``:``tag`` (and ``@digest`` when pinned)."""

    registry: str
    repository: str
    tag: str
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        match = _REFERENCE.fullmatch(text.strip())
        if match is None or (match["tag"] is None and match["digest"] is None):
            raise ValueError(f"{text!r} is not an image reference like registry/name:tag")
        name = match["name"]
        first, _, rest = name.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            registry, repository = first, rest
        else:
            registry = "docker.io"
            repository = name if "/" in name else f"library/{name}"
        return cls(registry, repository, match["tag"] or "latest", match["digest"])

    @property
    def name(self) -> str:
        """``registry/repository:tag``, without the digest."""
        return f"{self.registry}/{self.repository}:{self.tag}"

    def __str__(self) -> str:
        return f"{self.name}@{self.digest}" if self.digest else self.name

    def under(self, private_registry: str) -> ImageRef:
        """This image in ``private_registry`` (``host[:port][/path]``); itself when empty."""
        if not private_registry:
            return self
        host, _, path = private_registry.strip("/").partition("/")
        repository = f"{path}/{self.repository}" if path else self.repository
        return ImageRef(host, repository, self.tag, self.digest)


def registry_host(value: str) -> str:
    """``host[:port]`` of ``host[:port][/path]``."""
    return value.partition("/")[0]


def registry_port(value: str) -> int:
    """The port a ``host[:port][/path]`` registry listens on (443 when none is named)."""
    host = registry_host(value)
    return int(host.rpartition(":")[2]) if ":" in host else 443


@dataclass(frozen=True)
class ImageSpec:
    """One image of the catalog: what it is for and who needs it."""

    key: str
    image: str
    phase: str
    roles: frozenset[str]
    when: Mapping[str, str]
    tag: str | None
    tags: Mapping[str, str]


@dataclass(frozen=True)
class ClusterImage:
    """An image this cluster needs: its upstream reference, its phase and its hosts' roles."""

    key: str
    ref: ImageRef
    phase: str
    roles: frozenset[str]


def _parse_catalog(text: str, where: str) -> dict[str, ImageSpec]:
    data = yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader: libyaml's)
    if not isinstance(data, dict) or data.get("schema") != 1:
        raise BomError(f"{where}: expected schema 1")
    found: dict[str, ImageSpec] = {}
    for key, raw in (data.get("images") or {}).items():
        strangers = unknown_roles(map(str, raw.get("roles") or [])) if isinstance(raw, dict) else []
        if strangers:
            raise BomError(f"{where}: image {key}: unknown role(s) {', '.join(strangers)}")
        try:
            found[key] = ImageSpec(
                key=key,
                image=str(raw["image"]),
                phase=str(raw["phase"]),
                roles=frozenset(raw["roles"]),
                when={str(k): str(v) for k, v in (raw.get("when") or {}).items()},
                tag=raw.get("tag"),
                tags={str(k): str(v) for k, v in (raw.get("tags") or {}).items()},
            )
        except (KeyError, TypeError) as error:
            raise BomError(f"{where}: image {key}: {error}") from None
    return found


@cache
def image_catalog() -> dict[str, ImageSpec]:
    """The packaged catalog (``kubexms/artifacts/data/images.yaml``), parsed once."""
    text = resources.files("kubexms.artifacts").joinpath("data/images.yaml").read_text("utf-8")
    return _parse_catalog(text, "kubexms/artifacts/data/images.yaml")


def _cluster_value(cluster: Cluster, key: str) -> str:
    spec = cluster.spec
    values = {
        "kubernetes.type": spec.kubernetes.type,
        "etcd.type": spec.etcd.type,
        "network.plugin": spec.network.plugin,
        "network.nodeLocalDNS": "true" if spec.network.node_local_dns else "false",
        "registry.type": spec.registry.type,
        "controlPlaneEndpoint.loadBalancer.type": spec.control_plane_endpoint.load_balancer.type,
    }
    return values[key]


def cluster_images(
    cluster: Cluster,
    *,
    phases: Collection[str] | None = None,
    catalog: Mapping[str, ImageSpec] | None = None,
) -> list[ClusterImage]:
    """The images ``cluster`` needs (of ``phases``, None: all), by upstream reference."""
    catalog = catalog if catalog is not None else image_catalog()
    version = normalize_version(cluster.spec.kubernetes.version)
    minor = minor_of(version)
    found = []
    for spec in catalog.values():
        if phases is not None and spec.phase not in phases:
            continue
        if any(_cluster_value(cluster, key) != value for key, value in spec.when.items()):
            continue
        tag = spec.tag.replace("{kubernetes}", version) if spec.tag else spec.tags.get(minor)
        if tag is None:
            covered = ", ".join(sorted(spec.tags)) or "none"
            raise BomError(
                f"no {spec.key} image for Kubernetes {minor}: the image list covers {covered}"
            )
        ref = ImageRef.parse(f"{spec.image}:{tag}")
        found.append(ClusterImage(spec.key, ref, spec.phase, spec.roles))
    return found


def sandbox_image(cluster: Cluster) -> ImageRef:
    """The pause image the Kubernetes version expects, under the private registry if any."""
    (pause,) = [image for image in cluster_images(cluster) if image.key == "pause"]
    return pause.ref.under(cluster.spec.registry.private_registry)
