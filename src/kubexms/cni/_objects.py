"""Kubernetes objects as parsed data: reading a manifest, finding an object, pointing images.

Plugins' manifests are changed by editing these parsed objects (a missing object or field is an
error naming it), never by substituting text: an upstream edit that moves a field fails loudly
instead of leaving the default in place.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import yaml

from kubexms.artifacts import ImageRef
from kubexms.cni._errors import ManifestError

KubeObject = dict[str, Any]

# libyaml when present: Calico's manifest is half a megabyte of CRD schemas.
_Loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)


def load_objects(text: str, source: str) -> list[KubeObject]:
    """Every object of a multi-document manifest, in order (empty documents skipped)."""
    try:
        documents = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as error:
        raise ManifestError(f"{source}: not valid YAML: {error}") from None
    found: list[KubeObject] = []
    for index, document in enumerate(documents):
        if document is None:
            continue
        if not isinstance(document, dict) or "kind" not in document or "apiVersion" not in document:
            raise ManifestError(f"{source}: document {index + 1} is not a Kubernetes object")
        found.append(document)
    return found


def dump_objects(objects: Sequence[KubeObject]) -> str:
    """The objects as one multi-document manifest, in order, keys as they were."""
    return yaml.dump_all(
        objects, Dumper=_Dumper, sort_keys=False, default_flow_style=False, explicit_start=True
    )


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Block style for multi-line strings (the ConfigMaps' embedded JSON stays readable)."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def find_object(objects: Sequence[KubeObject], kind: str, name: str, source: str) -> KubeObject:
    """The one object of ``kind`` named ``name``."""
    matches = [
        obj
        for obj in objects
        if obj["kind"] == kind and (obj.get("metadata") or {}).get("name") == name
    ]
    if len(matches) != 1:
        raise ManifestError(f"{source}: expected one {kind} {name}, found {len(matches)}")
    return matches[0]


def field(obj: Mapping[str, Any], path: Sequence[str | int], source: str) -> Any:
    """The value at ``path`` inside ``obj``; a missing step is an error naming it."""
    value: Any = obj
    for depth, step in enumerate(path):
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            where = ".".join(str(part) for part in path[: depth + 1])
            raise ManifestError(
                f"{source}: {obj.get('kind')} {obj.get('metadata', {}).get('name')} has no {where}"
            ) from None
    return value


def containers(obj: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The containers and init containers of a workload object (none for other kinds)."""
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    yield from spec.get("initContainers") or []
    yield from spec.get("containers") or []


def container(obj: Mapping[str, Any], name: str, source: str) -> dict[str, Any]:
    matches = [item for item in containers(obj) if item.get("name") == name]
    if len(matches) != 1:
        raise ManifestError(
            f"{source}: expected one container {name} in {obj['kind']} "
            f"{obj['metadata']['name']}, found {len(matches)}"
        )
    return matches[0]


def set_env(target: dict[str, Any], name: str, value: str) -> None:
    """Set the container's environment variable ``name`` to a literal ``value`` (appended when
    the manifest does not have it)."""
    env: list[dict[str, Any]] = target.setdefault("env", [])
    for entry in env:
        if entry.get("name") == name:
            entry.pop("valueFrom", None)
            entry["value"] = value
            return
    env.append({"name": name, "value": value})


def env_value(target: Mapping[str, Any], name: str) -> str | None:
    """The literal value of the environment variable ``name`` (None when absent)."""
    for entry in target.get("env") or []:
        if entry.get("name") == name:
            value = entry.get("value")
            return None if value is None else str(value)
    return None


def point_images(
    objects: Sequence[KubeObject],
    images: Mapping[str, ImageRef],
    private_registry: str,
    source: str,
) -> None:
    """Every container's image becomes the pinned one it stands for, under ``private_registry``.

    ``images`` maps the last path segment of a repository (``node`` of ``calico/node``) to the
    image kubexms pins (and carries in its bundle). The manifest's tag must be the pinned tag:
    a difference means the manifest and the image list disagree about the version.
    """
    for obj in objects:
        for item in containers(obj):
            upstream = ImageRef.parse(str(item["image"]))
            short = upstream.repository.rsplit("/", 1)[-1]
            pinned = images.get(short)
            if pinned is None:
                raise ManifestError(
                    f"{source}: container {item['name']} of {obj['kind']} "
                    f"{obj['metadata']['name']} uses {upstream}, which is not in the image list"
                )
            if pinned.tag != upstream.tag:
                raise ManifestError(
                    f"{source}: container {item['name']} uses {upstream}, but the image list "
                    f"pins {pinned}"
                )
            item["image"] = str(pinned.under(private_registry))


def daemonset_selectors(objects: Sequence[KubeObject]) -> list[tuple[str, str, str]]:
    """(namespace, name, label selector) of every DaemonSet among ``objects``: what the phase
    waits to roll out, and how it finds those pods when they do not."""
    found = []
    for obj in objects:
        if obj["kind"] != "DaemonSet":
            continue
        labels = field(obj, ["spec", "selector", "matchLabels"], "rendered objects")
        selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
        found.append(
            (obj["metadata"].get("namespace", "default"), obj["metadata"]["name"], selector)
        )
    return found
