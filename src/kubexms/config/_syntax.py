"""What names, addresses and user names of the cluster file may look like, as plain predicates.

No pydantic here: the validated types (kubexms.config._types) and the fast inventory reader
(kubexms.config._inventory) both decide with these, so the two can never disagree.
"""

from __future__ import annotations

import ipaddress
import re

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_HOST_LABEL = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?")
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\$?")


def is_dns_label(value: str) -> bool:
    """A DNS-1123 label: lower-case letters, digits and '-', 1-63 characters, alphanumeric ends."""
    return len(value) <= 63 and _DNS_LABEL.fullmatch(value) is not None


def is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_hostname(value: str) -> bool:
    """An RFC 1123 host name; an all-numeric last label would be a mistyped IPv4 address."""
    if not value or len(value) > 253:
        return False
    labels = value.removesuffix(".").split(".")
    if labels[-1].isdigit():
        return False
    return all(len(label) <= 63 and _HOST_LABEL.fullmatch(label) for label in labels)


def is_address(value: str) -> bool:
    """An IP address or a host name."""
    return is_ip_address(value) or is_hostname(value)


def is_user_name(value: str) -> bool:
    """A POSIX-style login name of at most 32 characters."""
    return len(value) <= 32 and _USER.fullmatch(value) is not None
