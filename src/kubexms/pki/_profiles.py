"""What a certificate must say: subject, kind (CA, server, client or both) and SANs.

The names and groups follow kubeadm's documented requirements ("PKI certificates and
requirements", kubernetes.io) as kubeadm v1.29 and later apply them: the admin kubeconfig and
``apiserver-kubelet-client`` are in the ``kubeadm:cluster-admins`` group (bound to
``cluster-admin`` by a ClusterRoleBinding of that name), ``super-admin.conf`` alone is in
``system:masters``, and the etcd client certificates carry no organization.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SYSTEM_MASTERS = "system:masters"
CLUSTER_ADMINS = "kubeadm:cluster-admins"
"""The group of ``admin.conf`` and ``apiserver-kubelet-client``; the cluster bootstrap must bind
it to the ``cluster-admin`` ClusterRole (kubeadm init does; a binary install must apply a
ClusterRoleBinding ``kubeadm:cluster-admins`` with ``super-admin.conf``)."""
SYSTEM_NODES = "system:nodes"
NODE_USER_PREFIX = "system:node:"


class CertKind(StrEnum):
    """A certificate's role, which fixes its usages.

    ``server``/``client``: digital signature (+ key encipherment for RSA keys) and the one
    extended usage; ``peer``: both extended usages (etcd server and peer certificates);
    ``ca``: a self-signed authority that signs certificates.
    """

    ca = "ca"
    server = "server"
    client = "client"
    peer = "peer"

    @property
    def extended_key_usages(self) -> tuple[x509.ObjectIdentifier, ...]:
        return {
            CertKind.ca: (),
            CertKind.server: (ExtendedKeyUsageOID.SERVER_AUTH,),
            CertKind.client: (ExtendedKeyUsageOID.CLIENT_AUTH,),
            CertKind.peer: (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
        }[self]


@dataclass(frozen=True)
class CertProfile:
    """The identity and usage one certificate must have."""

    common_name: str
    kind: CertKind
    organizations: tuple[str, ...] = ()
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[IPAddress, ...] = ()

    @property
    def subject(self) -> x509.Name:
        """O first, then CN, the order kubeadm (Go's pkix.Name) writes them in."""
        attributes = [
            x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, org) for org in self.organizations
        ]
        attributes.append(x509.NameAttribute(x509.NameOID.COMMON_NAME, self.common_name))
        return x509.Name(attributes)

    @property
    def san_strings(self) -> frozenset[str]:
        """The SANs as text (``DNS:name``, ``IP:address``), for comparisons and messages."""
        return frozenset(
            [f"DNS:{name}" for name in self.dns_names]
            + [f"IP:{address}" for address in self.ip_addresses]
        )


def split_sans(values: Iterable[str]) -> tuple[tuple[str, ...], tuple[IPAddress, ...]]:
    """Names and addresses apart, each once, first mention first (addresses normalised)."""
    names: dict[str, None] = {}
    addresses: dict[IPAddress, None] = {}
    for value in values:
        value = value.strip()
        if not value:
            continue
        try:
            addresses[ipaddress.ip_address(value)] = None
        except ValueError:
            names[value.lower().removesuffix(".")] = None
    return tuple(names), tuple(addresses)


def certificate_sans(certificate: x509.Certificate) -> frozenset[str]:
    """A certificate's SANs in the form of `CertProfile.san_strings`."""
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return frozenset()
    names = extension.value.get_values_for_type(x509.DNSName)
    addresses = extension.value.get_values_for_type(x509.IPAddress)
    return frozenset(
        [f"DNS:{name.lower()}" for name in names] + [f"IP:{address}" for address in addresses]
    )
