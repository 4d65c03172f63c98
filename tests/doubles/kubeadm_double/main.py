"""kubeadm (test double): ``version``, ``init``, ``join`` (and ``join phase``), ``token
create|delete|list``.

What it does for real: it reads ``--config`` strictly against the v1beta4 schemas (and the
kubelet and kube-proxy ones of its minor); it checks the PKI in ``certificatesDir`` (chains,
key pairs, the API server's names) and the kubeconfigs already there; it writes the static pod
manifests, kubeconfigs and kubelet files kubeadm writes, where kubeadm writes them, and starts
the kubelet with ``systemctl`` as kubeadm does; after ``init`` it uploads what kubeadm uploads
(the bootstrap token Secret, ``cluster-info`` with its JWS signature, ``kubeadm-config`` and
``kubelet-config``) through the API server with ``admin.conf``; ``join`` discovers the cluster
through ``cluster-info`` fetched from the endpoint, refuses a CA whose public key is not pinned
by ``caCertHashes`` and a token whose JWS signature does not verify, then waits for the kubelet
to write ``kubelet.conf`` (its TLS bootstrap). See tests/doubles/README.md for what it does not.

``KUBEXMS_DOUBLE_ROOT`` (tests of the double only) puts every host path under another root.
"""

from __future__ import annotations

import json
import sys

from ._core import ApiError
from .common import DEFAULT_VERSION, KubeadmError, minor, parse_flags
from .init import cmd_init
from .join import cmd_join
from .phases import cmd_join_phase
from .tokens import cmd_token


def cmd_version(argv: list[str], version: str) -> None:
    flags = parse_flags(argv, {"o": True, "output": True})
    output = flags.get("o") or flags.get("output") or ""
    major, number = minor(version).split(".")
    if output == "short":
        print(version)
    elif output == "json":
        print(
            json.dumps(
                {
                    "clientVersion": {
                        "major": major,
                        "minor": number,
                        "gitVersion": version,
                        "platform": "linux/amd64",
                        "testDouble": "kubexms",
                    }
                }
            )
        )
    elif output:
        raise KubeadmError(f"invalid output format: {output}")
    else:
        print(
            f'kubeadm version: &version.Info{{Major:"{major}", Minor:"{number}", '
            f'GitVersion:"{version}", Platform:"linux/amd64"}} (kubexms test double)'
        )


def cmd_join_or_phase(argv: list[str], version: str) -> None:
    if argv[:1] == ["phase"]:
        cmd_join_phase(argv[1:], version)
    else:
        cmd_join(argv, version)


COMMANDS = {"init": cmd_init, "join": cmd_join_or_phase, "token": cmd_token, "version": cmd_version}


def main(argv: list[str], version: str = DEFAULT_VERSION) -> int:
    # kubeadm's output and errors interleave in the order they happen (stdout is a pipe here).
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(
            "kubeadm (kubexms test double): init, join, token, version; see tests/doubles/README.md"
        )
        return 0
    if argv[0] == "--version":
        print(f"kubeadm {version} (kubexms test double)")
        return 0
    command = COMMANDS.get(argv[0])
    if command is None:
        print(f'unknown command "{argv[0]}" for "kubeadm"', file=sys.stderr)
        return 1
    try:
        command(argv[1:], version)
    except KubeadmError as error:
        print(f"error execution phase: {error}", file=sys.stderr)
        return 1
    except ApiError as error:
        print(f"error execution phase: {error}", file=sys.stderr)
        return 1
    return 0
