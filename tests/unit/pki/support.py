"""Shared helpers of the PKI tests: a sample cluster, and OpenSSL as an independent judge.

Certificates are checked with the real ``openssl`` binary, not with the library that made
them, so a mistake in how `cryptography` is used cannot hide itself.
"""

from __future__ import annotations

import copy
import ipaddress
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubexms.config import Cluster, parse_config

CLUSTER: dict[str, Any] = {
    "apiVersion": "kubexms.io/v1alpha1",
    "kind": "Cluster",
    "metadata": {"name": "pki-test"},
    "spec": {
        "hosts": [
            {"name": "node1", "address": "10.213.0.11"},
            {"name": "node2", "address": "10.213.0.12", "internalAddress": "192.168.7.12"},
            {"name": "node3", "address": "10.213.0.13"},
            {"name": "node4", "address": "node4.example.net"},
        ],
        "roleGroups": {
            "master": ["node1", "node2"],
            "etcd": ["node1", "node2", "node3"],
            "worker": ["node3", "node4"],
        },
        "controlPlaneEndpoint": {"domain": "lb.kubexms.local", "address": "10.213.0.100"},
        "kubernetes": {
            "dnsDomain": "corp.local",
            "apiServer": {"certSANs": ["api.example.com", "203.0.113.7"]},
        },
        "network": {"kubeServiceCIDR": "10.96.0.0/16", "kubePodsCIDR": "10.244.0.0/16"},
    },
}


def cluster_document() -> dict[str, Any]:
    """A deep copy of the sample cluster file, to change in a test."""
    return copy.deepcopy(CLUSTER)


def make_cluster(document: dict[str, Any] | None = None) -> Cluster:
    return parse_config(yaml.safe_dump(document or CLUSTER), source="cluster.yaml")


def copy_pki(source: Path, target: Path) -> Path:
    """A copy of a generated PKI directory (modes kept), so a test can change its own."""
    shutil.copytree(source, target)
    return target


def openssl(*args: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *map(str, args)],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def openssl_verify(ca: Path, certificate: Path, purpose: str | None = None) -> None:
    """Fail unless ``openssl verify -x509_strict`` accepts ``certificate`` under ``ca``."""
    extra = ["-purpose", purpose] if purpose else []
    done = openssl("verify", "-x509_strict", *extra, "-CAfile", ca, certificate)
    report = f"openssl verify {certificate} against {ca} ({purpose}): {done.stdout}{done.stderr}"
    assert done.returncode == 0, report
    assert done.stdout.strip() == f"{certificate}: OK", report


def openssl_refusal(ca: Path, certificate: Path, purpose: str | None = None) -> str:
    """Why ``openssl verify`` refuses ``certificate`` under ``ca``; fails if it accepts it."""
    extra = ["-purpose", purpose] if purpose else []
    done = openssl("verify", "-x509_strict", *extra, "-CAfile", ca, certificate)
    assert done.returncode != 0, f"openssl accepted {certificate} under {ca} ({purpose})"
    return done.stdout + done.stderr


@dataclass(frozen=True)
class CertView:
    """A certificate as ``openssl x509 -text`` tells it."""

    subject: dict[str, list[str]]
    is_ca: bool
    key_usage: frozenset[str]
    extended_key_usage: frozenset[str]
    sans: frozenset[str]

    @property
    def common_name(self) -> str:
        (name,) = self.subject["CN"]
        return name

    @property
    def organizations(self) -> list[str]:
        return self.subject.get("O", [])


def _normalise_san(value: str) -> str:
    kind, _, text = value.strip().partition(":")
    if kind == "IP Address":
        return f"IP:{ipaddress.ip_address(text)}"
    return f"{kind}:{text}"


def openssl_view(path: Path) -> CertView:
    done = openssl(
        "x509",
        "-in",
        path,
        "-noout",
        "-subject",
        "-nameopt",
        "RFC2253,sep_multiline,sname",
        "-ext",
        "basicConstraints,keyUsage,extendedKeyUsage,subjectAltName",
    )
    assert done.returncode == 0, done.stderr
    subject: dict[str, list[str]] = {}
    sections: dict[str, str] = {}
    current = ""
    for line in done.stdout.splitlines():
        if line.startswith("subject="):
            current = "subject"
        elif line.startswith("X509v3 "):
            current = line.removeprefix("X509v3 ").split(":")[0]
        elif current == "subject" and "=" in line:
            key, _, value = line.strip().partition("=")
            subject.setdefault(key, []).append(value)
        elif line.strip():
            sections[current] = line.strip()

    def split(name: str) -> frozenset[str]:
        return frozenset(part.strip() for part in sections.get(name, "").split(",") if part.strip())

    return CertView(
        subject=subject,
        is_ca=sections.get("Basic Constraints") == "CA:TRUE",
        key_usage=split("Key Usage"),
        extended_key_usage=split("Extended Key Usage"),
        sans=frozenset(_normalise_san(v) for v in split("Subject Alternative Name")),
    )
