"""Certificates on a host, read through its Runner in one round trip.

Only certificates leave the host: PEM files are filtered there to their ``CERTIFICATE``
blocks, and from kubeconfigs only ``client-certificate-data`` is taken, so private keys (in
``*.key``, combined ``*.pem`` files or ``client-key-data``) are never read over the wire.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import posixpath
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cryptography import x509

from kubexms.pki._expiry import Authorities, CertificateExpiry, describe
from kubexms.pki._inspect import is_ca

if TYPE_CHECKING:
    from kubexms.runner import Runner

HOST_CERT_DIRECTORIES: tuple[str, ...] = (
    "/etc/kubernetes/pki",
    "/etc/ssl/etcd",
    "/var/lib/kubelet/pki",
)
"""Where kubeadm, kubexm-installed etcd and the kubelet keep certificates."""
HOST_KUBECONFIG_DIRECTORY = "/etc/kubernetes"
_MARK = "@kxms-pki"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def host_scan_script(directories: Sequence[str], kubeconfig_directory: str) -> str:
    """The shell script that prints one ``@kxms-pki`` line per certificate found."""
    for path in (*directories, kubeconfig_directory):
        if not path.startswith("/") or "\x00" in path:
            raise ValueError(f"{path!r} is not an absolute path")
    one_file = (
        'for f; do grep -q -e "-----BEGIN CERTIFICATE-----" "$f" 2>/dev/null || continue; '
        f'printf "{_MARK} cert %s %s %s\\n" "$(printf %s "$root" | base64 -w0)" '
        '"$(printf %s "$f" | base64 -w0)" '
        '"$(sed -n "/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p" "$f" '
        '| base64 -w0)"; done'
    )
    return "\n".join(
        [
            f"for root in {' '.join(_quote(d) for d in directories)}; do",
            '  [ -d "$root" ] || continue',
            "  export root",
            "  find \"$root\" -type f \\( -name '*.crt' -o -name '*.pem' \\) "
            f"-exec sh -c {_quote(one_file)} sh {{}} + 2>/dev/null",
            "done",
            f"for f in {_quote(kubeconfig_directory)}/*.conf; do",
            '  [ -f "$f" ] || continue',
            "  v=$(sed -n 's/^[[:space:]]*client-certificate-data:[[:space:]]*//p' \"$f\" "
            "| head -n 1)",
            f'  [ -n "$v" ] && printf "{_MARK} conf %s %s\\n" '
            '"$(printf %s "$f" | base64 -w0)" "$v"',
            "done",
            "exit 0",
        ]
    )


def _decode(value: str) -> bytes:
    return base64.b64decode(value.strip().strip("'\""), validate=True)


def parse_host_scan(
    output: str, host: str, *, authorities: Authorities = (), now: dt.datetime | None = None
) -> list[CertificateExpiry]:
    """The certificates in a scan's output, CAs first then by path.

    A certificate's issuer is named after the known ``authorities`` or, failing those, after
    the CAs found on the host itself (by their path, ``etcd/ca``). Lines that do not decode are
    skipped.
    """
    now = dt.datetime.now(dt.UTC) if now is None else now
    found: list[tuple[str, str, x509.Certificate]] = []
    for line in output.splitlines():
        fields = line.split()
        try:
            if len(fields) == 5 and fields[:2] == [_MARK, "cert"]:
                root = _decode(fields[2]).decode(errors="replace")
                path = _decode(fields[3]).decode(errors="replace")
                name = posixpath.splitext(posixpath.relpath(path, root))[0]
                pem = _decode(fields[4])
            elif len(fields) == 4 and fields[:2] == [_MARK, "conf"]:
                path = _decode(fields[2]).decode(errors="replace")
                name, pem = posixpath.basename(path), _decode(fields[3])
            else:
                continue
            found.append((name, path, x509.load_pem_x509_certificates(pem)[0]))
        except (binascii.Error, ValueError, IndexError):
            continue
    on_host = [(name, cert) for name, _, cert in found if is_ca(cert)]
    known = [*authorities, *on_host]
    records = [
        describe(cert, name=name, location=host, path=path, authorities=known, now=now)
        for name, path, cert in found
    ]
    return sorted(records, key=lambda item: (not item.is_ca, item.path))


async def host_expirations(
    runner: Runner,
    *,
    authorities: Authorities = (),
    directories: Sequence[str] = HOST_CERT_DIRECTORIES,
    kubeconfig_directory: str = HOST_KUBECONFIG_DIRECTORY,
    now: dt.datetime | None = None,
) -> list[CertificateExpiry]:
    """Every certificate under ``directories`` and in ``kubeconfig_directory``'s ``*.conf``.

    Runs with the Runner's privileges (the directories are root's). Raises the connector's
    errors when the host cannot be asked.
    """
    result = await runner.script(host_scan_script(directories, kubeconfig_directory))
    return parse_host_scan(result.stdout, runner.host_name, authorities=authorities, now=now)
