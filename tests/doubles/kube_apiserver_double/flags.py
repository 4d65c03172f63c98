"""kube-apiserver's command line as its pflag parser reads it, for the flags of 1.31-1.34.

Every flag of ``kube-apiserver --help`` that kubeadm, kubexms' binary mode or a user's
``extraArgs`` may reasonably pass is known here with its kind; an unknown flag, a bad value or a
missing required flag ends the process with exit code 1 and the message the real binary prints.
Flags removed before 1.31 (``--insecure-port``, ``--logtostderr``, ...) are unknown, as they are
to the real binary.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

BOOL, STRING, INT, LIST, DURATION, MAP = "bool", "string", "int", "list", "duration", "map"

FLAGS: dict[str, str] = {
    # serving
    "advertise-address": STRING, "bind-address": STRING, "secure-port": INT,
    "cert-dir": STRING, "tls-cert-file": STRING, "tls-private-key-file": STRING,
    "tls-cipher-suites": LIST, "tls-min-version": STRING, "tls-sni-cert-key": LIST,
    "http2-max-streams-per-connection": INT, "permit-port-sharing": BOOL,
    "permit-address-sharing": BOOL, "external-hostname": STRING, "cors-allowed-origins": LIST,
    "strict-transport-security-directives": LIST, "goaway-chance": STRING,
    "livez-grace-period": DURATION, "shutdown-delay-duration": DURATION,
    "shutdown-send-retry-after": BOOL, "shutdown-watch-termination-grace-period": DURATION,
    "max-requests-inflight": INT, "max-mutating-requests-inflight": INT,
    "min-request-timeout": INT, "request-timeout": DURATION, "enable-priority-and-fairness": BOOL,
    # authentication and authorization
    "client-ca-file": STRING, "anonymous-auth": BOOL, "enable-bootstrap-token-auth": BOOL,
    "token-auth-file": STRING, "authentication-config": STRING,
    "authentication-token-webhook-config-file": STRING,
    "authentication-token-webhook-cache-ttl": DURATION,
    "authentication-token-webhook-version": STRING,
    "authorization-mode": LIST, "authorization-config": STRING,
    "authorization-policy-file": STRING, "authorization-webhook-config-file": STRING,
    "authorization-webhook-version": STRING, "authorization-webhook-cache-authorized-ttl": DURATION,
    "authorization-webhook-cache-unauthorized-ttl": DURATION,
    "oidc-issuer-url": STRING, "oidc-client-id": STRING, "oidc-ca-file": STRING,
    "oidc-username-claim": STRING, "oidc-username-prefix": STRING, "oidc-groups-claim": STRING,
    "oidc-groups-prefix": STRING, "oidc-required-claim": MAP, "oidc-signing-algs": LIST,
    "requestheader-client-ca-file": STRING, "requestheader-allowed-names": LIST,
    "requestheader-extra-headers-prefix": LIST, "requestheader-group-headers": LIST,
    "requestheader-username-headers": LIST, "requestheader-uid-headers": LIST,
    "proxy-client-cert-file": STRING, "proxy-client-key-file": STRING,
    "enable-aggregator-routing": BOOL, "aggregator-reject-forwarding-redirect": BOOL,
    "api-audiences": LIST,
    # service accounts
    "service-account-issuer": LIST, "service-account-key-file": LIST,
    "service-account-signing-key-file": STRING, "service-account-lookup": BOOL,
    "service-account-extend-token-expiration": BOOL, "service-account-max-token-expiration":
    DURATION, "service-account-jwks-uri": STRING,
    # cluster
    "service-cluster-ip-range": STRING, "service-node-port-range": STRING,
    "allow-privileged": BOOL, "apiserver-count": INT, "endpoint-reconciler-type": STRING,
    "kubernetes-service-node-port": INT, "event-ttl": DURATION,
    "default-not-ready-toleration-seconds": INT, "default-unreachable-toleration-seconds": INT,
    "enable-admission-plugins": LIST, "disable-admission-plugins": LIST,
    "admission-control-config-file": STRING, "runtime-config": MAP, "feature-gates": MAP,
    "emulated-version": LIST, "enable-logs-handler": BOOL, "profiling": BOOL,
    "contention-profiling": BOOL, "debug-socket-path": STRING, "egress-selector-config-file":
    STRING, "peer-advertise-ip": STRING, "peer-advertise-port": STRING, "peer-ca-file": STRING,
    # kubelet client
    "kubelet-client-certificate": STRING, "kubelet-client-key": STRING,
    "kubelet-certificate-authority": STRING, "kubelet-preferred-address-types": LIST,
    "kubelet-timeout": DURATION, "kubelet-port": INT, "kubelet-read-only-port": INT,
    # etcd and storage
    "etcd-servers": LIST, "etcd-cafile": STRING, "etcd-certfile": STRING, "etcd-keyfile": STRING,
    "etcd-prefix": STRING, "etcd-servers-overrides": LIST, "etcd-compaction-interval": DURATION,
    "etcd-count-metric-poll-period": DURATION, "etcd-db-metric-poll-interval": DURATION,
    "etcd-healthcheck-timeout": DURATION, "etcd-readycheck-timeout": DURATION,
    "storage-backend": STRING, "storage-media-type": STRING, "watch-cache": BOOL,
    "watch-cache-sizes": LIST, "default-watch-cache-size": INT, "delete-collection-workers": INT,
    "enable-garbage-collector": BOOL, "encryption-provider-config": STRING,
    "encryption-provider-config-automatic-reload": BOOL, "lease-reuse-duration-seconds": INT,
    # audit
    "audit-policy-file": STRING, "audit-log-path": STRING, "audit-log-maxage": INT,
    "audit-log-maxbackup": INT, "audit-log-maxsize": INT, "audit-log-format": STRING,
    "audit-log-mode": STRING, "audit-log-compress": BOOL, "audit-webhook-config-file": STRING,
    "audit-webhook-mode": STRING,
    # logging (klog's file flags were removed in 1.26)
    "v": INT, "vmodule": STRING, "logging-format": STRING, "log-flush-frequency": DURATION,
    "log-json-info-buffer-size": STRING, "log-json-split-stream": BOOL,
    "log-text-info-buffer-size": STRING, "log-text-split-stream": BOOL,
    # meta
    "version": STRING, "help": BOOL,
}  # fmt: skip

SHORT = {"v": "v", "h": "help"}
AUTHORIZATION_MODES = {"AlwaysAllow", "AlwaysDeny", "ABAC", "Webhook", "RBAC", "Node"}
REQUIRED_FILES = (
    "tls-cert-file", "tls-private-key-file", "client-ca-file", "etcd-cafile", "etcd-certfile",
    "etcd-keyfile", "service-account-signing-key-file", "requestheader-client-ca-file",
    "proxy-client-cert-file", "proxy-client-key-file", "kubelet-client-certificate",
    "kubelet-client-key", "encryption-provider-config", "audit-policy-file",
)  # fmt: skip


class FlagError(Exception):
    """The command line is one the real kube-apiserver refuses (its message)."""


@dataclass
class Options:
    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def flag(self, name: str, default: bool) -> bool:
        if name not in self.values:
            return default
        return self.values[name].lower() == "true"

    def items(self, name: str) -> list[str]:
        return self.lists.get(name, [])


def _parse_bool(name: str, value: str) -> str:
    if value.lower() in ("true", "1", "t"):
        return "true"
    if value.lower() in ("false", "0", "f"):
        return "false"
    raise FlagError(
        f'invalid argument "{value}" for "--{name}" flag: strconv.ParseBool: parsing '
        f'"{value}": invalid syntax'
    )


def parse_flags(argv: list[str]) -> Options:
    """The flags in ``argv`` (pflag rules: ``--name=value``, ``--name value``, bare booleans)."""
    options = Options()
    index = 0
    while index < len(argv):
        argument = argv[index]
        index += 1
        if not argument.startswith("-") or argument in ("-", "--"):
            raise FlagError(f'unknown command "{argument}" for "kube-apiserver"')
        if argument.startswith("--"):
            name, has_value, value = argument[2:].partition("=")
        else:
            name, has_value, value = argument[1:].partition("=")
            if name not in SHORT:
                raise FlagError(f"unknown shorthand flag: '{name[:1]}' in {argument}")
            name = SHORT[name]
        kind = FLAGS.get(name)
        if kind is None:
            raise FlagError(f"unknown flag: --{name}")
        if not has_value:
            if kind == BOOL or name == "version":
                value = "true"
            elif index < len(argv):
                value = argv[index]
                index += 1
            else:
                raise FlagError(f"flag needs an argument: --{name}")
        if kind == BOOL:
            value = _parse_bool(name, value)
        elif kind == INT and not value.lstrip("-").isdigit():
            raise FlagError(
                f'invalid argument "{value}" for "--{name}" flag: strconv.ParseInt: parsing '
                f'"{value}": invalid syntax'
            )
        options.values[name] = value
        if kind in (LIST, MAP):
            options.lists.setdefault(name, []).extend(p for p in value.split(",") if p)
    return options


def validate(options: Options) -> None:
    """What the real binary checks before serving (messages as it words them)."""
    problems: list[str] = []
    if not options.items("etcd-servers"):
        problems.append("--etcd-servers must be specified")
    for server in options.items("etcd-servers"):
        if urlsplit(server).scheme not in ("http", "https"):
            problems.append(f"--etcd-servers: {server!r} is not an http(s) URL")
    if not options.items("service-account-issuer"):
        problems.append("--service-account-issuer is a required flag")
    if not options.get("service-account-signing-key-file"):
        problems.append(
            "--service-account-signing-key-file and --service-account-issuer are required flags"
        )
    if not options.items("service-account-key-file"):
        problems.append("--service-account-key-file is required (the double has no default)")
    for mode in options.items("authorization-mode"):
        if mode not in AUTHORIZATION_MODES:
            problems.append(f"authorization-mode {mode!r} is not a valid mode")
    if options.get("tls-cert-file") == "" or options.get("tls-private-key-file") == "":
        # The real binary would generate a self-signed pair in --cert-dir; kubexms never
        # relies on that, so the double insists on the cluster PKI.
        problems.append(
            "--tls-cert-file and --tls-private-key-file are required by this double "
            "(kubexms serves the cluster PKI's certificate)"
        )
    for cidr in options.get("service-cluster-ip-range").split(","):
        if cidr:
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                problems.append(f'service-cluster-ip-range "{cidr}" is not a valid CIDR')
    for address_flag in ("advertise-address", "bind-address"):
        if options.get(address_flag):
            try:
                ipaddress.ip_address(options.get(address_flag))
            except ValueError:
                problems.append(f"--{address_flag} {options.get(address_flag)!r} is not an IP")
    port = int(options.get("secure-port", "6443"))
    if not 0 < port < 65536:
        problems.append(f"--secure-port {port} must be between 1 and 65535, inclusive")
    for name in REQUIRED_FILES:
        for path in [options.get(name)] if options.get(name) else []:
            if not Path(path).is_file():
                problems.append(f"--{name}: open {path}: no such file or directory")
    for path in options.items("service-account-key-file"):
        if not Path(path).is_file():
            problems.append(f"--service-account-key-file: open {path}: no such file or directory")
    if problems:
        raise FlagError("; ".join(problems))
