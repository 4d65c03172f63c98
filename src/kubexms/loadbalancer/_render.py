"""The files the load balancer is made of, rendered from the cluster file (no host touched)."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

import jinja2

from kubexms.artifacts import image_catalog
from kubexms.loadbalancer._layout import (
    API_SERVER_PORT,
    BINARIES,
    KEEPALIVED_CONFIG,
    PROXY_UNIT,
    Backend,
    proxy_config_path,
)

HEALTH_CHECK_INTERVAL = "2s"
"""haproxy probes every master's /healthz this often; two failures take it out."""
KEEPALIVED_BINARY = "/usr/sbin/keepalived"
_KUBE_VIP = image_catalog()["kube-vip"]
KUBE_VIP_IMAGE = f"{_KUBE_VIP.image}:{_KUBE_VIP.tag}"
"""The pinned kube-vip (the image list of kubexms.artifacts, where its source is named)."""
KUBE_VIP_KUBECONFIG = "/etc/kubernetes/admin.conf"

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("kubexms.loadbalancer", "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    autoescape=False,  # noqa: S701 - config files, not HTML
)


def _render(name: str, **variables: Any) -> str:
    return _ENVIRONMENT.get_template(name).render(**variables)


def render_proxy_config(kind: str, bind: str, backends: Sequence[Backend]) -> str:
    """haproxy.cfg or nginx.conf spreading ``bind`` (``127.0.0.1:6443``, ``*:6443``) over
    ``backends``."""
    if not backends:
        raise ValueError("a load balancer needs at least one master to send traffic to")
    template = "haproxy.cfg.j2" if kind == "haproxy" else "nginx.conf.j2"
    if kind == "nginx" and bind.startswith("*:"):
        bind = bind[2:]  # nginx listens on every address when given only the port
    return _render(template, bind=bind, backends=backends, check_interval=HEALTH_CHECK_INTERVAL)


def render_proxy_unit(kind: str) -> str:
    return _render(f"{kind}.service.j2", config=proxy_config_path(kind), binary=BINARIES[kind])


def proxy_validate_command(kind: str) -> str:
    """The daemon's own check of a config file (``{path}`` is the file)."""
    if kind == "haproxy":
        return f"{BINARIES['haproxy']} -c -q -f {{path}}"
    return f"{BINARIES['nginx']} -t -q -c {{path}}"


def render_keepalived_config(
    *,
    host: str,
    kind: str,
    interface: str,
    router_id: int,
    priority: int,
    address: str,
    peers: Sequence[str],
    vip: str,
) -> str:
    """keepalived.conf for one ``loadbalancer`` host: unicast VRRP with its peers, holding
    ``vip`` while its proxy process lives."""
    return _render(
        "keepalived.conf.j2",
        host=host,
        process=kind,
        check=f"systemctl is-active --quiet {PROXY_UNIT}",
        interface=interface,
        router_id=router_id,
        priority=priority,
        address=address,
        peers=peers,
        vip=vip,
    )


def render_keepalived_unit() -> str:
    return _render(
        "keepalived.service.j2",
        config=KEEPALIVED_CONFIG,
        binary=KEEPALIVED_BINARY,
        proxy_unit=PROXY_UNIT,
    )


def keepalived_validate_command() -> str:
    return f"{KEEPALIVED_BINARY} --config-test -f {{path}}"


def render_kube_vip_manifest(*, address: str, interface: str, image: str = KUBE_VIP_IMAGE) -> str:
    """The kube-vip static pod: ``address`` held by one master at a time (ARP, leader
    election over the API server's leases)."""
    return _render(
        "kube-vip.yaml.j2",
        image=image,
        address=address,
        interface=interface,
        api_port=API_SERVER_PORT,
        kubeconfig=KUBE_VIP_KUBECONFIG,
    )


def template_names() -> list[str]:
    """The templates shipped with the package (for packaging tests)."""
    root = resources.files("kubexms.loadbalancer") / "templates"
    return sorted(entry.name for entry in root.iterdir() if entry.name.endswith(".j2"))
