"""The registry's files: htpasswd lines the registry accepts, stable across runs."""

from __future__ import annotations

import bcrypt
import yaml

from kubexms.registry import render_htpasswd
from kubexms.registry._config import HTPASSWD, render_config


def test_htpasswd_is_bcrypt_and_the_same_on_every_run() -> None:
    text = render_htpasswd("demo", {"puller": "s3cret", "admin": "other"})
    assert text == render_htpasswd("demo", {"admin": "other", "puller": "s3cret"})
    lines = dict(line.split(":", 1) for line in text.splitlines())
    assert set(lines) == {"admin", "puller"}
    assert lines["puller"].startswith("$2b$")
    assert bcrypt.checkpw(b"s3cret", lines["puller"].encode())
    assert not bcrypt.checkpw(b"wrong", lines["puller"].encode())
    assert "s3cret" not in text
    # Another password (or cluster) gives another line.
    assert render_htpasswd("demo", {"puller": "new"}) != render_htpasswd(
        "demo", {"puller": "s3cret"}
    )


def test_config_serves_tls_on_the_port_with_htpasswd_only_when_logins_exist() -> None:
    with_auth = yaml.safe_load(render_config(5443, True))
    assert with_auth["http"]["addr"] == ":5443"
    assert with_auth["http"]["tls"]["certificate"].endswith("server.crt")
    assert with_auth["auth"]["htpasswd"]["path"] == HTPASSWD
    assert with_auth["storage"]["delete"] == {"enabled": False}
    assert "auth" not in yaml.safe_load(render_config(443, False))
