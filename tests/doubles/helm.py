#!/usr/bin/python3
"""A double of helm 3 (tests only): ``upgrade --install`` and ``status`` as kubexms runs them.

Strict: only the flags helm 3 has for these commands and kubexms uses are accepted, in pflag
syntax; anything else exits 1 with helm's ``Error: unknown flag: --x``. Every call is appended
to ``/var/lib/helm-double/calls.jsonl`` (argv, the values files' contents; ``HELM_DOUBLE_CALLS``
names another file) so tests assert what kubexms ran. What is done for real:

- the chart: a local archive must be a gzipped tar with ``<name>/Chart.yaml`` (apiVersion v2,
  name, version); with ``--repo`` the repository's ``index.yaml`` is fetched over HTTP and the
  version's archive downloaded and checked the same way (an unreachable repository fails with
  helm's message);
- values files must exist and hold a YAML mapping;
- the release is stored in the cluster as helm 3 stores it: a Secret
  ``sh.helm.release.v1.<release>.v<revision>`` (type ``helm.sh/release.v1``, labels owner=helm,
  name, status, version) in the release's namespace, written with the real kubectl beside this
  file (``--create-namespace`` applies the Namespace first). The ``release`` data is JSON
  (helm's own is gzipped protobuf-JSON): name, namespace, version, info (status, description),
  chart metadata, config (the merged values).

- the chart's objects: templates that hold no template action (``{{``) are manifests as they
  are, and are applied with the real kubectl (server-side, field manager ``helm``) in the
  release's namespace, labelled and annotated as helm 3 marks what it owns, before the release
  is stored. A template with an action is refused (``render error``): there is no Go template
  engine here, and an install that silently created nothing would pass a wait by accident.

Not done: rendering template actions (above), so test charts are stand-ins whose templates are
plain manifests; ``--wait`` waits for nothing (kubexms waits for the objects itself).
``--version`` / ``version`` say it is a double.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

VERSION = "v3.16.4"
CALLS = Path(os.environ.get("HELM_DOUBLE_CALLS", "/var/lib/helm-double/calls.jsonl"))
KUBECTL = Path(__file__).resolve().parent / "kubectl"
UPGRADE_FLAGS = {
    "kubeconfig": "value",
    "namespace": "value",
    "create-namespace": "bool",
    "install": "bool",
    "wait": "bool",
    "timeout": "value",
    "repo": "value",
    "version": "value",
    "values": "list",
    "description": "value",
}
STATUS_FLAGS = {"kubeconfig": "value", "namespace": "value", "output": "value"}


class HelmError(Exception):
    """Printed as helm prints errors: ``Error: <message>``, exit 1."""


def parse(args: list[str], known: dict[str, str]) -> tuple[list[str], dict[str, Any]]:
    positional: list[str] = []
    flags: dict[str, Any] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if not arg.startswith("--"):
            if arg.startswith("-") and arg != "-":
                raise HelmError(f"unknown shorthand flag: {arg[1:2]!r} in {arg}")
            positional.append(arg)
            continue
        name, has_value, value = arg[2:].partition("=")
        kind = known.get(name)
        if kind is None:
            raise HelmError(f"unknown flag: --{name}")
        if kind == "bool":
            if has_value and value not in ("true", "false"):
                raise HelmError(f'invalid argument "{value}" for "--{name}" flag')
            flags[name] = value != "false"
            continue
        if not has_value:
            if index >= len(args):
                raise HelmError(f"flag needs an argument: --{name}")
            value = args[index]
            index += 1
        if kind == "list":
            flags.setdefault(name, []).append(value)
        else:
            flags[name] = value
    return positional, flags


def kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [str(KUBECTL), f"--kubeconfig={kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise HelmError(f"Kubernetes cluster unreachable: {result.stderr.strip()}")
    return result.stdout


def chart_metadata(data: bytes, where: str) -> dict[str, Any]:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            names = [m for m in archive.getmembers() if m.name.count("/") == 1]
            charts = [m for m in names if m.name.endswith("/Chart.yaml")]
            if not charts:
                raise HelmError(f"Chart.yaml file is missing in {where}")
            handle = archive.extractfile(charts[0])
            assert handle is not None
            metadata = yaml.safe_load(handle.read())
    except (tarfile.TarError, OSError):
        raise HelmError(
            f"file '{where}' does not appear to be a gzipped archive; got "
            "'application/octet-stream'"
        ) from None
    if not isinstance(metadata, dict) or not metadata.get("name") or not metadata.get("version"):
        raise HelmError(f"validation: chart.metadata.name and version are required ({where})")
    if metadata.get("apiVersion") != "v2":
        raise HelmError(f"apiVersion '{metadata.get('apiVersion')}' is not valid for helm 3")
    return metadata


def chart_objects(data: bytes, release: str, namespace: str) -> list[dict[str, Any]]:
    """The objects of the chart's ``templates/*.yaml``, marked as helm 3 marks what it owns
    (``app.kubernetes.io/managed-by: Helm``, ``meta.helm.sh/release-name``/``-namespace``)."""
    objects: list[dict[str, Any]] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        members = sorted(
            (m for m in archive.getmembers() if m.isfile() and m.name.count("/") == 2),
            key=lambda m: m.name,
        )
        for member in members:
            if member.name.split("/")[1] != "templates" or not member.name.endswith(".yaml"):
                continue
            handle = archive.extractfile(member)
            assert handle is not None
            text = handle.read().decode()
            if "{{" in text:
                raise HelmError(
                    f"render error in {member.name}: kubexms's helm double renders no "
                    "template actions (a test chart's templates are plain manifests)"
                )
            objects += [doc for doc in yaml.safe_load_all(text) if doc]
    for obj in objects:
        metadata = obj.setdefault("metadata", {})
        metadata["labels"] = {**(metadata.get("labels") or {}),
                              "app.kubernetes.io/managed-by": "Helm"}  # fmt: skip
        metadata["annotations"] = {
            **(metadata.get("annotations") or {}),
            "meta.helm.sh/release-name": release,
            "meta.helm.sh/release-namespace": namespace,
        }
    return objects


def fetch_chart(repo: str, chart: str, version: str | None) -> tuple[bytes, str]:
    index_url = repo.rstrip("/") + "/index.yaml"
    try:
        with urllib.request.urlopen(index_url, timeout=10) as response:  # noqa: S310
            index = yaml.safe_load(response.read())
    except (urllib.error.URLError, OSError) as error:
        raise HelmError(
            f'looks like "{repo}" is not a valid chart repository or cannot be reached: {error}'
        ) from None
    entries = (index or {}).get("entries", {}).get(chart) or []
    found = [e for e in entries if version is None or e.get("version") == version]
    if not found:
        raise HelmError(f'chart "{chart}" version "{version}" not found in {repo} repository')
    url = urllib.parse.urljoin(repo.rstrip("/") + "/", found[0]["urls"][0])
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
        return response.read(), url


def release_secrets(kubeconfig: str, namespace: str, release: str) -> list[dict[str, Any]]:
    listed = json.loads(
        kubectl(
            kubeconfig,
            f"--namespace={namespace}",
            "get",
            "secrets",
            f"--selector=owner=helm,name={release}",
            "--output=json",
        )
    )
    items = listed.get("items") or []
    return sorted(items, key=lambda s: int(s["metadata"]["labels"].get("version", "0")))


def upgrade(args: list[str]) -> int:
    positional, flags = parse(args, UPGRADE_FLAGS)
    if len(positional) != 2:
        raise HelmError(f'"helm upgrade" requires 2 arguments, got {len(positional)}')
    if not flags.get("install"):
        raise HelmError("kubexms's helm double only supports upgrade --install")
    release, chart = positional
    namespace = flags.get("namespace", "default")
    kubeconfig = flags.get("kubeconfig") or os.environ.get("KUBECONFIG", "")
    values: dict[str, Any] = {}
    documents = []
    for path in flags.get("values", []):
        try:
            text = Path(path).read_text()
        except OSError:
            raise HelmError(f"open {path}: no such file or directory") from None
        loaded = yaml.safe_load(text) or {}
        if not isinstance(loaded, dict):
            raise HelmError(f"failed to parse {path}: error unmarshaling JSON: not a mapping")
        values.update(loaded)
        documents.append({"path": path, "content": text})
    CALLS.parent.mkdir(parents=True, exist_ok=True)
    with CALLS.open("a") as log:
        log.write(json.dumps({"argv": ["helm", "upgrade", *args], "values": documents}) + "\n")
    if "repo" in flags:
        data, where = fetch_chart(flags["repo"], chart, flags.get("version"))
    else:
        try:
            data, where = Path(chart).read_bytes(), chart
        except OSError:
            raise HelmError(f'path "{chart}" not found') from None
    metadata = chart_metadata(data, where)
    if flags.get("create-namespace"):
        namespace_object = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace},
        }
        kubectl(kubeconfig, "apply", "--server-side", "--field-manager=helm", "-f", "-",
                stdin=json.dumps(namespace_object))  # fmt: skip
    objects = chart_objects(data, release, namespace)
    if objects:
        manifests = "\n---\n".join(json.dumps(obj) for obj in objects)
        kubectl(kubeconfig, f"--namespace={namespace}", "apply", "--server-side",
                "--field-manager=helm", "--force-conflicts", "-f", "-",
                stdin=manifests)  # fmt: skip
    previous = release_secrets(kubeconfig, namespace, release)
    revision = int(previous[-1]["metadata"]["labels"]["version"]) + 1 if previous else 1
    record = {
        "name": release,
        "namespace": namespace,
        "version": revision,
        "info": {
            "status": "deployed",
            "description": flags.get("description")
            or ("Install complete" if revision == 1 else "Upgrade complete"),
            "last_deployed": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "chart": {"metadata": metadata},
        "config": values,
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "helm.sh/release.v1",
        "metadata": {
            "name": f"sh.helm.release.v1.{release}.v{revision}",
            "namespace": namespace,
            "labels": {
                "owner": "helm",
                "name": release,
                "status": "deployed",
                "version": str(revision),
            },
        },
        "data": {"release": base64.b64encode(json.dumps(record).encode()).decode()},
    }
    kubectl(kubeconfig, "apply", "--server-side", "--field-manager=helm", "-f", "-",
            stdin=json.dumps(secret))  # fmt: skip
    for old in previous:  # helm marks the releases before the deployed one superseded
        name = old["metadata"]["name"]
        kubectl(kubeconfig, f"--namespace={namespace}", "label", "--overwrite",
                f"secret/{name}", "status=superseded")  # fmt: skip
    if revision == 1:
        print(f'Release "{release}" does not exist. Installing it now.')
    else:
        print(f'Release "{release}" has been upgraded. Happy Helming!')
    print(f"NAME: {release}\nNAMESPACE: {namespace}\nSTATUS: deployed\nREVISION: {revision}")
    return 0


def status(args: list[str]) -> int:
    positional, flags = parse(args, STATUS_FLAGS)
    if len(positional) != 1:
        raise HelmError(f'"helm status" requires 1 argument, got {len(positional)}')
    if flags.get("output", "table") not in ("table", "json", "yaml"):
        raise HelmError(f"invalid format type {flags['output']!r}")
    namespace = flags.get("namespace", "default")
    kubeconfig = flags.get("kubeconfig") or os.environ.get("KUBECONFIG", "")
    found = release_secrets(kubeconfig, namespace, positional[0])
    if not found:
        raise HelmError("release: not found")
    record = json.loads(base64.b64decode(found[-1]["data"]["release"]))
    if flags.get("output") == "json":
        print(json.dumps(record))
    else:
        print(f"NAME: {record['name']}\nSTATUS: {record['info']['status']}")
    return 0


def main(argv: list[str]) -> int:
    if argv in (["--version"], ["version"], ["version", "--short"]):
        print(f'version.BuildInfo{{Version:"{VERSION}"}} (kubexms test double)')
        return 0
    commands = {"upgrade": upgrade, "status": status}
    if not argv or argv[0] not in commands:
        print(f'Error: unknown command "{argv[0] if argv else ""}" for "helm"', file=sys.stderr)
        return 1
    try:
        return commands[argv[0]](argv[1:])
    except HelmError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
