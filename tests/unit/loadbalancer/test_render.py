"""The files of the load balancer, rendered: haproxy and nginx over the masters, keepalived's
VRRP instance, and kube-vip's static pod checked against the Kubernetes Pod schema."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

from kubexms.loadbalancer import (
    KUBE_VIP_IMAGE,
    Backend,
    render_keepalived_config,
    render_kube_vip_manifest,
    render_proxy_config,
)
from kubexms.loadbalancer._render import render_keepalived_unit, render_proxy_unit, template_names

MASTERS = [Backend("m1", "10.0.0.1"), Backend("m2", "10.0.0.2"), Backend("m3", "10.0.0.3")]


def test_haproxy_checks_healthz_over_tls_and_retries_elsewhere() -> None:
    text = render_proxy_config("haproxy", "127.0.0.1:6443", MASTERS)
    assert "bind 127.0.0.1:6443" in text
    assert "option httpchk GET /healthz" in text
    assert "check check-ssl verify none" in text
    assert "option redispatch" in text
    assert [line.split()[1:3] for line in text.splitlines() if "    server " in line] == [
        ["m1", "10.0.0.1:6443"],
        ["m2", "10.0.0.2:6443"],
        ["m3", "10.0.0.3:6443"],
    ]


def test_nginx_streams_with_passive_checks_and_next_upstream() -> None:
    text = render_proxy_config("nginx", "*:8443", MASTERS[:2])
    assert "listen 8443;" in text
    assert "proxy_next_upstream on;" in text
    assert "server 10.0.0.1:6443 max_fails=1 fail_timeout=10s;" in text
    assert "server 10.0.0.3:6443" not in text
    assert "daemon off;" in text


def test_a_load_balancer_without_masters_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="at least one master"):
        render_proxy_config("haproxy", "*:6443", [])


def test_units_reload_without_restarting() -> None:
    haproxy = render_proxy_unit("haproxy")
    assert "ExecReload=/bin/kill -USR2 $MAINPID" in haproxy
    assert "-Ws -f ${CONFIG} -c -q" in haproxy  # the reload checks the file first
    nginx = render_proxy_unit("nginx")
    assert "ExecReload=/bin/kill -HUP $MAINPID" in nginx
    assert "ExecReload=/bin/kill -HUP $MAINPID" in render_keepalived_unit()


def test_keepalived_is_unicast_non_preempting_and_tracks_the_proxy() -> None:
    text = render_keepalived_config(
        host="lb1",
        kind="nginx",
        interface="eth1",
        router_id=77,
        priority=140,
        address="10.0.0.11",
        peers=["10.0.0.12", "10.0.0.13"],
        vip="10.0.0.100",
    )
    assert "state BACKUP" in text
    assert "nopreempt" in text
    assert "virtual_router_id 77" in text
    assert "priority 140" in text
    assert "unicast_src_ip 10.0.0.11" in text
    assert "        10.0.0.12\n        10.0.0.13\n" in text
    assert "10.0.0.100/32 dev eth1" in text
    assert 'script "systemctl is-active --quiet kubexms-lb.service"' in text
    assert "track_script {\n        kubexms_proxy" in text


@pytest.mark.parametrize("version", ["1.31.0", "1.34.0"])
def test_kube_vip_manifest_is_a_valid_pod(version: str) -> None:
    text = render_kube_vip_manifest(address="10.0.0.100", interface="eth0")
    pod = yaml.safe_load(text)
    # strict: an unknown field (a typo in the template) is an error, not ignored.
    kubernetes_validate.validate(pod, version, strict=True)
    (container,) = pod["spec"]["containers"]
    assert container["image"] == KUBE_VIP_IMAGE
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["address"] == "10.0.0.100"
    assert env["vip_arp"] == "true"
    assert env["vip_interface"] == "eth0"
    assert env["cp_enable"] == "true"
    assert pod["spec"]["hostNetwork"] is True


def test_kube_vip_schema_check_catches_a_broken_manifest() -> None:
    pod = yaml.safe_load(render_kube_vip_manifest(address="10.0.0.100", interface="eth0"))
    pod["spec"]["containers"][0]["env"][0]["value"] = True  # env values are strings
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, "1.31.0", strict=True)


def test_every_template_ships_with_the_package() -> None:
    assert template_names() == [
        "haproxy.cfg.j2",
        "haproxy.service.j2",
        "keepalived.conf.j2",
        "keepalived.service.j2",
        "kube-vip.yaml.j2",
        "nginx.conf.j2",
        "nginx.service.j2",
    ]
