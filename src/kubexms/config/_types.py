"""Validated scalar types of the cluster file, with error messages that read as sentences."""

from __future__ import annotations

import ipaddress
import math
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, StrictInt
from pydantic_core import PydanticCustomError

from kubexms.config._syntax import (
    is_address,
    is_dns_label,
    is_hostname,
    is_ip_address,
    is_user_name,
)

ERROR_TYPE = "kubexms_config"
"""The pydantic error type of every check defined here; its message is shown to users as is."""


def invalid(message: str) -> PydanticCustomError:
    """An error whose message is shown verbatim (braces in it are not a template)."""
    return PydanticCustomError(ERROR_TYPE, "{reason}", {"reason": message})


_VERSION = re.compile(r"v\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?")


def _check_dns_label(value: str) -> str:
    if not is_dns_label(value):
        raise invalid(
            f"'{value}' is not a valid name: use lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return value


def _check_address(value: str) -> str:
    if not is_address(value):
        raise invalid(f"'{value}' is not an IP address or host name")
    return value


def _check_address_or_empty(value: str) -> str:
    return value if value == "" else _check_address(value)


def _check_hostname_or_empty(value: str) -> str:
    if value and not is_hostname(value):
        raise invalid(f"'{value}' is not a valid domain name")
    return value


def _check_domain(value: str) -> str:
    if not is_hostname(value):
        raise invalid(f"'{value}' is not a valid domain name")
    return value


def _check_san(value: str) -> str:
    name = value.removeprefix("*.")
    if not (is_ip_address(value) or is_hostname(name)):
        raise invalid(f"'{value}' is not an IP address, host name or wildcard domain")
    return value


def _check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise invalid("must be between 1 and 65535")
    return value


def _check_finite(value: float) -> float:
    # `.nan` and `.inf` are YAML floats; as a timeout they would mean "never" or "undefined".
    if math.isnan(value):
        raise invalid("must be a number of seconds, not .nan")
    if math.isinf(value):
        raise invalid(f"must be a finite number of seconds, not {'-' if value < 0 else ''}.inf")
    return value


def _check_positive(value: float) -> float:
    _check_finite(value)
    if value <= 0:
        raise invalid("must be greater than 0")
    return value


def _check_not_negative(value: float) -> float:
    _check_finite(value)
    if value < 0:
        raise invalid("must not be negative")
    return value


def _check_positive_int(value: int) -> int:
    if value <= 0:
        raise invalid("must be a positive whole number")
    return value


def _require_number(value: Any) -> Any:
    # YAML already gives numbers; a quoted "30" or `true` is a mistake, not something to coerce.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid("must be a number")
    return value


def _check_version(value: str) -> str:
    if not _VERSION.fullmatch(value):
        raise invalid(f"'{value}' is not a version like v1.31.4")
    return value


def _check_cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        if "host bits set" in str(exc):
            raise invalid(f"'{value}' has host bits set; did you mean a network address?") from None
        raise invalid(f"'{value}' is not a valid CIDR like 10.233.64.0/18") from None
    return value


def _check_user(value: str) -> str:
    if not is_user_name(value):
        raise invalid(f"'{value}' is not a valid user name")
    return value


def _check_not_empty(value: str) -> str:
    if not value.strip():
        raise invalid("must not be empty")
    return value


def _check_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise invalid(f"'{value}' is not an http(s) URL")
    return value


def _check_path(value: Path) -> Path:
    if str(value) in ("", "."):
        raise invalid("must not be empty")
    return value


def _check_absolute_path(value: Path) -> Path:
    if not value.is_absolute():
        raise invalid(f"'{value}' must be an absolute path")
    return value


_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def label_key_problem(key: str) -> str | None:
    """Why ``key`` is not a Kubernetes label key (``[prefix/]name``), or None when it is one.

    The optional prefix is a DNS subdomain of at most 253 characters; the name is at most 63
    characters of letters, digits, '-', '_' and '.', beginning and ending with a letter or digit.
    """
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return f"label key '{key}' has an empty prefix before '/'"
    if slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return (
            f"label key prefix '{prefix}' must be a DNS subdomain: lower-case letters, digits, "
            "'-' and '.', at most 253 characters"
        )
    if not name:
        return f"label key '{key}' has no name"
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        return (
            f"label key '{key}': the name must be at most 63 characters of letters, digits, "
            "'-', '_' and '.', beginning and ending with a letter or digit"
        )
    return None


def label_value_problem(value: str) -> str | None:
    """Why ``value`` is not a Kubernetes label value (empty is allowed), or None."""
    if value and (len(value) > 63 or not _LABEL_NAME.fullmatch(value)):
        return (
            f"label value '{value}' must be at most 63 characters of letters, digits, '-', '_' "
            "and '.', beginning and ending with a letter or digit (or empty)"
        )
    return None


def _check_label_key(value: str) -> str:
    problem = label_key_problem(value)
    if problem is not None:
        raise invalid(problem)
    return value


def _check_label_value(value: str) -> str:
    problem = label_value_problem(value)
    if problem is not None:
        raise invalid(problem)
    return value


def _none_as_empty_list(value: Any) -> Any:
    # `worker:` with nothing after it is YAML null; it means "no hosts", not an error.
    return [] if value is None else value


def _scalar_as_text(value: Any) -> Any:
    # `--max-pods: 110` in extraArgs means the flag value "110".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


Name = Annotated[str, AfterValidator(_check_dns_label)]
Address = Annotated[str, AfterValidator(_check_address)]
AddressOrEmpty = Annotated[str, AfterValidator(_check_address_or_empty)]
Domain = Annotated[str, AfterValidator(_check_domain)]
DomainOrEmpty = Annotated[str, AfterValidator(_check_hostname_or_empty)]
SubjectAltName = Annotated[str, AfterValidator(_check_san)]
Port = Annotated[
    StrictInt,
    AfterValidator(_check_port),
    Field(json_schema_extra={"minimum": 1, "maximum": 65535}),
]
Seconds = Annotated[float, BeforeValidator(_require_number), AfterValidator(_check_positive)]
NonNegativeSeconds = Annotated[
    float, BeforeValidator(_require_number), AfterValidator(_check_not_negative)
]
Count = Annotated[StrictInt, AfterValidator(_check_positive_int)]
Version = Annotated[str, AfterValidator(_check_version)]
Cidr = Annotated[str, AfterValidator(_check_cidr)]
UserName = Annotated[str, AfterValidator(_check_user)]
Text = Annotated[str, AfterValidator(_check_not_empty)]
Url = Annotated[str, AfterValidator(_check_url)]
FilePath = Annotated[Path, AfterValidator(_check_path)]
AbsolutePath = Annotated[Path, AfterValidator(_check_path), AfterValidator(_check_absolute_path)]
ArgValue = Annotated[str, BeforeValidator(_scalar_as_text)]
LabelKey = Annotated[str, AfterValidator(_check_label_key)]
LabelValue = Annotated[str, AfterValidator(_check_label_value)]
NoneAsEmpty = BeforeValidator(_none_as_empty_list)


def _check_secret_not_empty(value: SecretStr) -> SecretStr:
    if not value.get_secret_value():
        raise invalid("must not be empty")
    return value


Secret = Annotated[SecretStr, AfterValidator(_check_secret_not_empty)]
