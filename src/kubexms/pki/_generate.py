"""``generate_pki``: make what is missing, keep what still fits, replace the rest and say why."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kubexms.pki._catalog import (
    SERVICE_ACCOUNT,
    CertificateSpec,
    KubeconfigSpec,
    PkiPlan,
    plan_pki,
)
from kubexms.pki._errors import PkiError
from kubexms.pki._inspect import mismatches
from kubexms.pki._issue import issue_certificate
from kubexms.pki._keys import (
    PrivateKey,
    load_private_key,
    new_private_key,
    private_key_pem,
    public_key_pem,
)
from kubexms.pki._kubeconfig import parse_kubeconfig, render_kubeconfig
from kubexms.pki._options import PkiOptions, pki_options
from kubexms.pki._store import (
    CERT_MODE,
    KEY_MODE,
    ensure_directory,
    fix_mode,
    read_optional,
    write_atomic,
)

if TYPE_CHECKING:
    from kubexms.config import Cluster

EntryKind = Literal["ca", "certificate", "kubeconfig", "key pair"]
Issued = tuple[x509.Certificate, PrivateKey]


class Action(StrEnum):
    """What ``generate_pki`` did with one item."""

    created = "created"  # nothing was there
    regenerated = "regenerated"  # something was there and no longer fit (see reasons)
    kept = "kept"  # it still fits


@dataclass(frozen=True)
class PkiEntry:
    """One item of the PKI and what was done with it.

    ``reasons``: why it was regenerated; ``notes``: small repairs made to a kept item (a
    file mode, a missing public key written from its private key).
    """

    name: str
    kind: EntryKind
    path: Path
    action: Action
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    expires: dt.datetime | None = None


@dataclass(frozen=True)
class PkiReport:
    """The outcome of one ``generate_pki`` run, items in the order they were handled."""

    directory: Path
    entries: tuple[PkiEntry, ...]

    def entry(self, name: str) -> PkiEntry:
        """The entry called ``name`` (``ca``, ``etcd/server-node1``, ``kubeconfig/admin.conf``)."""
        for entry in self.entries:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def with_action(self, action: Action) -> list[PkiEntry]:
        return [entry for entry in self.entries if entry.action is action]


def default_pki_directory(cluster: Cluster) -> Path:
    """``<work dir>/pki``: where the cluster's PKI lives on the control machine."""
    return cluster.work_dir / "pki"


def _load_pair(cert_data: bytes, key_data: bytes, spec_name: str) -> Issued | str:
    try:
        certificate = x509.load_pem_x509_certificate(cert_data)
    except ValueError:
        return f"{spec_name}.crt is not a PEM certificate"
    try:
        key = load_private_key(key_data)
    except ValueError as error:
        return f"{spec_name}.key is {error}"
    return certificate, key


class _Generator:
    def __init__(self, directory: Path, options: PkiOptions, now: dt.datetime) -> None:
        self.directory = directory
        self.options = options
        self.now = now
        self.entries: list[PkiEntry] = []

    def _issue(self, spec: CertificateSpec | KubeconfigSpec, issuer: Issued | None) -> Issued:
        key = new_private_key(self.options.key_type)
        days = self.options.ca_validity_days if issuer is None else self.options.leaf_days
        certificate = issue_certificate(spec.profile, key, now=self.now, days=days, issuer=issuer)
        return certificate, key

    def certificate(self, spec: CertificateSpec, issuer: Issued | None) -> Issued:
        cert_file = self.directory / spec.cert_path
        key_file = self.directory / spec.key_path
        cert_data, key_data = read_optional(cert_file), read_optional(key_file)
        kind: EntryKind = "ca" if issuer is None else "certificate"
        reasons: list[str] = []
        if cert_data is None and key_data is None:
            action = Action.created
        elif cert_data is None or key_data is None:
            missing = cert_file if cert_data is None else key_file
            reasons.append(f"{missing.name} is missing")
            action = Action.regenerated
        else:
            loaded = _load_pair(cert_data, key_data, spec.name)
            if isinstance(loaded, str):
                reasons.append(loaded)
            else:
                reasons = mismatches(
                    loaded[0],
                    loaded[1],
                    spec.profile,
                    issuer=None if issuer is None else issuer[0],
                    options=self.options,
                    now=self.now,
                )
                if not reasons:
                    notes = [fix_mode(key_file, KEY_MODE), fix_mode(cert_file, CERT_MODE)]
                    self._record(spec.name, kind, cert_file, Action.kept, (), notes, loaded[0])
                    return loaded
            action = Action.regenerated
        certificate, key = self._issue(spec, issuer)
        # Key first: a run cut short leaves a new key beside the old certificate, which the
        # next run sees as "the private key does not match" and repairs.
        write_atomic(key_file, private_key_pem(key), KEY_MODE)
        write_atomic(cert_file, certificate.public_bytes(serialization.Encoding.PEM), CERT_MODE)
        self._record(spec.name, kind, cert_file, action, reasons, (), certificate)
        return certificate, key

    def service_account(self) -> None:
        key_file = self.directory / f"{SERVICE_ACCOUNT}.key"
        pub_file = self.directory / f"{SERVICE_ACCOUNT}.pub"
        key_data = read_optional(key_file)
        reasons: list[str] = []
        key: PrivateKey | None = None
        if key_data is not None:
            try:
                key = load_private_key(key_data)
            except ValueError as error:
                reasons.append(f"sa.key is {error}")
        if key is not None:
            notes = [fix_mode(key_file, KEY_MODE)]
            public = public_key_pem(key)
            current = read_optional(pub_file)
            if current != public:
                notes.append(f"sa.pub {'was missing' if current is None else 'did not match'}")
                write_atomic(pub_file, public, CERT_MODE)
            else:
                notes.append(fix_mode(pub_file, CERT_MODE))
            self._record(SERVICE_ACCOUNT, "key pair", key_file, Action.kept, (), notes, None)
            return
        key = new_private_key(self.options.key_type)
        write_atomic(key_file, private_key_pem(key), KEY_MODE)
        write_atomic(pub_file, public_key_pem(key), CERT_MODE)
        action = Action.created if key_data is None else Action.regenerated
        self._record(SERVICE_ACCOUNT, "key pair", key_file, action, reasons, (), None)

    def kubeconfig(self, spec: KubeconfigSpec, ca: Issued) -> None:
        path = self.directory / spec.path
        data = read_optional(path)
        name = str(spec.path)
        reasons = [] if data is None else self._kubeconfig_mismatches(spec, data, ca)
        if data is not None and not reasons:
            contents = parse_kubeconfig(data)
            certificate = x509.load_pem_x509_certificate(contents.cert_pem)
            notes = [fix_mode(path, KEY_MODE)]
            self._record(name, "kubeconfig", path, Action.kept, (), notes, certificate)
            return
        certificate, key = self._issue(spec, ca)
        write_atomic(path, render_kubeconfig(spec, ca[0], certificate, key), KEY_MODE)
        action = Action.created if data is None else Action.regenerated
        self._record(name, "kubeconfig", path, action, reasons, (), certificate)

    def _kubeconfig_mismatches(self, spec: KubeconfigSpec, data: bytes, ca: Issued) -> list[str]:
        try:
            contents = parse_kubeconfig(data)
        except ValueError as error:
            return [f"it is not a usable kubeconfig: {error}"]
        reasons = []
        if contents.server != spec.server:
            reasons.append(f"its server is {contents.server}, the config says {spec.server}")
        try:
            embedded_ca = x509.load_pem_x509_certificate(contents.ca_pem)
        except ValueError:
            embedded_ca = None
        if embedded_ca != ca[0]:
            reasons.append(f"it does not embed the current {spec.issuer} certificate")
        loaded = _load_pair(contents.cert_pem, contents.key_pem, "client-certificate-data")
        if isinstance(loaded, str):
            return [*reasons, loaded]
        certificate, key = loaded
        reasons += mismatches(
            certificate, key, spec.profile, issuer=ca[0], options=self.options, now=self.now
        )
        if not reasons and render_kubeconfig(spec, ca[0], certificate, key) != data:
            reasons.append("its cluster, user or context names differ from the config")
        return reasons

    def _record(
        self,
        name: str,
        kind: EntryKind,
        path: Path,
        action: Action,
        reasons: Sequence[str],
        notes: Sequence[str | None],
        certificate: x509.Certificate | None,
    ) -> None:
        self.entries.append(
            PkiEntry(
                name=name,
                kind=kind,
                path=path,
                action=action,
                reasons=tuple(reasons),
                notes=tuple(note for note in notes if note),
                expires=None if certificate is None else certificate.not_valid_after_utc,
            )
        )


def generate_pki(
    cluster: Cluster,
    directory: Path | None = None,
    *,
    options: PkiOptions | None = None,
    now: dt.datetime | None = None,
    only: Collection[str] | None = None,
) -> PkiReport:
    """Bring the PKI in ``directory`` (default: `default_pki_directory`) in line with ``cluster``.

    Each CA, certificate, kubeconfig and the service-account key pair is created when missing,
    kept when it still fits, and regenerated (new key and certificate) when it is unreadable,
    its key does not match, it expires within ``renewBeforeDays``, its SANs, subject, usages
    or key type no longer match the config, or its issuing CA changed. ``options`` default to
    the cluster's (`pki_options`); ``now`` is for tests. ``only`` limits the work to the
    certificates and kubeconfigs of those names and the CAs that issue them (``create cluster
    --only etcd`` makes only etcd's); the rest is neither made nor examined. Raises PkiError
    on bad options or an unusable directory.
    """
    kubernetes_type = cluster.spec.kubernetes.type
    options = pki_options(cluster) if options is None else options.checked(kubernetes_type)
    directory = default_pki_directory(cluster) if directory is None else directory
    now = dt.datetime.now(dt.UTC) if now is None else now
    if directory.exists() and not directory.is_dir():
        raise PkiError(f"{directory} exists and is not a directory")
    try:
        ensure_directory(directory)
    except OSError as error:
        raise PkiError(f"cannot create the PKI directory {directory}: {error.strerror}") from None
    plan = plan_pki(cluster)
    if only is not None:
        plan = _limited(plan, set(only))
    generator = _Generator(directory, options, now)
    try:
        authorities = {spec.name: generator.certificate(spec, None) for spec in plan.authorities}
        if only is None or SERVICE_ACCOUNT in only:
            generator.service_account()
        for spec in plan.certificates:
            assert spec.issuer is not None  # only CAs have none
            generator.certificate(spec, authorities[spec.issuer])
        for kubeconfig in plan.kubeconfigs:
            generator.kubeconfig(kubeconfig, authorities[kubeconfig.issuer])
    except OSError as error:
        where = error.filename or directory
        raise PkiError(f"cannot write the PKI in {directory}: {where}: {error.strerror}") from None
    return PkiReport(directory, tuple(generator.entries))


def _limited(plan: PkiPlan, names: set[str]) -> PkiPlan:
    known = {spec.name for spec in (*plan.authorities, *plan.certificates)}
    known |= {spec.name for spec in plan.kubeconfigs} | {SERVICE_ACCOUNT}
    unknown = sorted(names - known)
    if unknown:
        raise PkiError(f"this cluster's PKI has no {', '.join(unknown)}")
    certificates = tuple(spec for spec in plan.certificates if spec.name in names)
    kubeconfigs = tuple(spec for spec in plan.kubeconfigs if spec.name in names)
    issuers = {spec.issuer for spec in certificates if spec.issuer is not None}
    issuers |= {spec.issuer for spec in kubeconfigs} | names
    authorities = tuple(spec for spec in plan.authorities if spec.name in issuers)
    return PkiPlan(authorities, certificates, kubeconfigs)
