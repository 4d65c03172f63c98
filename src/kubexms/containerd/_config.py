"""The files containerd reads: its unit, config.toml, one hosts.toml per registry, crictl.yaml.

config.toml is written for the installed version: the v2 schema (containerd 1.6, 1.7: the CRI
is one plugin ``io.containerd.grpc.v1.cri``) or v3 (2.x: ``io.containerd.cri.v1.images`` and
``io.containerd.cri.v1.runtime``). Either way the systemd cgroup driver (the kubelet uses it),
the sandbox image of the Kubernetes version, runc at /usr/local/sbin, the CNI directories and
``config_path`` for per-registry ``hosts.toml`` files.

Logins (``spec.registry.auths``) go where the CRI of both versions reads them,
``registry.configs."<host>".auth`` in config.toml, which is then a 0600 file. (The ``imports``
mechanism would keep them in a file of their own, but containerd 1.x replaces a whole plugin
section from an import instead of merging it, so the CRI settings would be lost.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from kubexms.artifacts import ImageRef
from kubexms.config import Registry
from kubexms.containerd._layout import (
    BIN_DIR,
    CERTS_DIR,
    CNI_BIN_DIR,
    CNI_CONF_DIR,
    ROOT_DIR,
    RUNC,
    SOCKET,
    STATE_DIR,
    schema_version,
)

DOCKER_HUB = "docker.io"
DOCKER_HUB_SERVER = "https://registry-1.docker.io"
HEADER_LINE = "# Written by kubexms: changes here are overwritten by the next run."
_HEADER = HEADER_LINE + "\n"

UNIT = f"""[Unit]
Description=containerd container runtime (kubexms)
Documentation=https://containerd.io
After=network.target local-fs.target

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart={BIN_DIR}/containerd
Type=notify
# The kubelet's containers live in containerd's cgroups: let containerd manage them, and
# stop only containerd itself on restart, never the containers' shims.
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
LimitNOFILE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
"""

CRICTL_YAML = f"""{_HEADER}runtime-endpoint: unix://{SOCKET}
image-endpoint: unix://{SOCKET}
timeout: 10
"""


def _s(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value)


def _auths(prefix: str, auths: Mapping[str, tuple[str, str]]) -> list[str]:
    lines = []
    for host, (username, password) in sorted(auths.items()):
        lines += [
            f"  [{prefix}.registry.configs.{_s(host)}.auth]",
            f"    username = {_s(username)}",
            f"    password = {_s(password)}",
        ]
    return lines


def render_config(
    containerd_version: str,
    sandbox_image: ImageRef,
    auths: Mapping[str, tuple[str, str]],
) -> str:
    """config.toml for ``containerd_version``; ``auths``: registry host -> (user, password)."""
    schema = schema_version(containerd_version)
    head = [
        _HEADER.rstrip(),
        f"version = {schema}",
        f"root = {_s(ROOT_DIR)}",
        f"state = {_s(STATE_DIR)}",
        "",
        "[grpc]",
        f"  address = {_s(SOCKET)}",
        "",
    ]
    runc = [
        '    default_runtime_name = "runc"',
        "    [{p}.containerd.runtimes.runc]",
        '      runtime_type = "io.containerd.runc.v2"',
        "      [{p}.containerd.runtimes.runc.options]",
        "        SystemdCgroup = true",
        f"        BinaryName = {_s(RUNC)}",
        "  [{p}.cni]",
        f"    bin_dir = {_s(CNI_BIN_DIR)}",
        f"    conf_dir = {_s(CNI_CONF_DIR)}",
    ]
    if schema == 2:
        p = '"io.containerd.grpc.v1.cri"'
        p = f"plugins.{p}"
        body = [
            f"[{p}]",
            f"  sandbox_image = {_s(str(sandbox_image))}",
            f"  [{p}.containerd]",
            '    snapshotter = "overlayfs"',
            *(line.format(p=p) for line in runc),
            f"  [{p}.registry]",
            f"    config_path = {_s(CERTS_DIR)}",
            *_auths(p, auths),
        ]
    else:
        images = 'plugins."io.containerd.cri.v1.images"'
        runtime = 'plugins."io.containerd.cri.v1.runtime"'
        body = [
            f"[{images}]",
            '  snapshotter = "overlayfs"',
            f"  [{images}.pinned_images]",
            f"    sandbox = {_s(str(sandbox_image))}",
            f"  [{images}.registry]",
            f"    config_path = {_s(CERTS_DIR)}",
            *_auths(images, auths),
            "",
            f"[{runtime}]",
            f"  [{runtime}.containerd]",
            *(line.format(p=runtime) for line in runc),
        ]
    return "\n".join([*head, *body, ""])


@dataclass(frozen=True)
class RegistryHosts:
    """One registry's ``certs.d/<host>/hosts.toml`` (its CA, if any, is ``ca.crt`` beside it)."""

    host: str  # the registry's host[:port]: the directory name containerd looks up
    hosts_toml: str

    @property
    def directory(self) -> str:
        return f"{CERTS_DIR}/{self.host}"

    @property
    def ca_path(self) -> str:
        return f"{self.directory}/ca.crt"


def _url(value: str, scheme: str = "https") -> str:
    return value.rstrip("/") if "://" in value else f"{scheme}://{value.rstrip('/')}"


def _host_of(value: str) -> str:
    return _url(value).split("://", 1)[1].partition("/")[0]


def _entry(url: str, capabilities: list[str], *, ca: str | None, insecure: bool) -> list[str]:
    lines = [
        "",
        f"[host.{_s(url)}]",
        f"  capabilities = [{', '.join(_s(c) for c in capabilities)}]",
    ]
    if ca:
        lines.append(f"  ca = {_s(ca)}")
    if insecure and url.startswith("https://"):
        lines.append("  skip_verify = true")
    return lines


def registry_hosts(registry: Registry, private_ca: bool) -> list[RegistryHosts]:
    """The hosts.toml files ``registry`` asks for: docker.io's mirrors, the private registry
    (trusting the ``ca.crt`` beside it when ``private_ca``), every insecure registry
    (untrusted TLS first, then plain HTTP)."""
    insecure = {_host_of(item) for item in registry.insecure_registries}
    found: dict[str, RegistryHosts] = {}
    if registry.mirrors:
        lines = [_HEADER.rstrip(), f"server = {_s(DOCKER_HUB_SERVER)}"]
        for mirror in registry.mirrors:
            lines += _entry(
                _url(mirror), ["pull", "resolve"], ca=None, insecure=_host_of(mirror) in insecure
            )
        found[DOCKER_HUB] = RegistryHosts(DOCKER_HUB, "\n".join([*lines, ""]))
    private = registry.private_registry.partition("/")[0]
    if private:
        ca_path = f"{CERTS_DIR}/{private}/ca.crt" if private_ca else None
        lines = [_HEADER.rstrip(), f"server = {_s(_url(private))}"]
        capabilities = ["pull", "resolve", "push"]
        lines += _entry(_url(private), capabilities, ca=ca_path, insecure=private in insecure)
        if private in insecure:
            lines += _entry(_url(private, "http"), capabilities, ca=None, insecure=True)
        found[private] = RegistryHosts(private, "\n".join([*lines, ""]))
    for host in sorted(insecure - set(found)):
        lines = [_HEADER.rstrip(), f"server = {_s(_url(host))}"]
        lines += _entry(_url(host), ["pull", "resolve", "push"], ca=None, insecure=True)
        lines += _entry(_url(host, "http"), ["pull", "resolve", "push"], ca=None, insecure=True)
        found[host] = RegistryHosts(host, "\n".join([*lines, ""]))
    return list(found.values())
