"""PKI settings: validity, key type and the renewal threshold, with their defaults.

They are read from ``spec.kubernetes.certificates`` when the cluster model has that field; until
then every cluster gets the defaults. The settings live here, not in ``kubexms.config``, so the
PKI works without that field existing yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from kubexms.pki._errors import PkiError

if TYPE_CHECKING:
    from kubexms.config import Cluster

KeyType = Literal["rsa", "ecdsa"]
"""``rsa``: RSA 2048; ``ecdsa``: ECDSA on the P-256 curve."""

DEFAULT_CA_VALIDITY_DAYS = 3650
DEFAULT_LEAF_VALIDITY_DAYS = 365
KUBEADM_MAX_LEAF_VALIDITY_DAYS = 365
"""kubeadm issues leaf certificates for one year and renews them for one year on every upgrade,
so a longer lifetime in kubeadm mode would silently shrink at the first upgrade."""

_FIELD = "spec.kubernetes.certificates"


class PkiOptions(BaseModel):
    """How certificates are made (YAML names in camelCase, as in the cluster file).

    ``leaf_validity_days`` None means the default for the cluster's type: 365 days. With
    ``kubernetes.type: kubeadm`` it may be at most 365; with ``kubexm`` (binaries) any length up
    to the CA's. ``renew_before_days``: a certificate expiring within this many days is renewed
    by ``kubexms certs generate``.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        from_attributes=True,
    )

    ca_validity_days: int = Field(default=DEFAULT_CA_VALIDITY_DAYS, ge=1, le=36500)
    leaf_validity_days: int | None = Field(default=None, ge=1, le=36500)
    key_type: KeyType = "rsa"
    renew_before_days: int = Field(default=30, ge=0)

    @property
    def leaf_days(self) -> int:
        """The leaf lifetime in days (the default when unset)."""
        return self.leaf_validity_days or DEFAULT_LEAF_VALIDITY_DAYS

    def checked(self, kubernetes_type: str) -> PkiOptions:
        """These options with the leaf lifetime filled in; PkiError naming the field if invalid."""
        leaf = self.leaf_days
        if kubernetes_type == "kubeadm" and leaf > KUBEADM_MAX_LEAF_VALIDITY_DAYS:
            raise PkiError(
                f"{_FIELD}.leafValidityDays: {leaf} is more than "
                f"{KUBEADM_MAX_LEAF_VALIDITY_DAYS} days, the most kubeadm keeps (it renews leaf "
                "certificates for one year on every upgrade); use kubernetes.type kubexm for "
                "longer-lived certificates"
            )
        if leaf > self.ca_validity_days:
            raise PkiError(
                f"{_FIELD}.leafValidityDays: {leaf} days is longer than the CA's "
                f"{self.ca_validity_days} days (caValidityDays)"
            )
        if self.renew_before_days >= leaf:
            raise PkiError(
                f"{_FIELD}.renewBeforeDays: {self.renew_before_days} days is not shorter than "
                f"the leaf lifetime of {leaf} days, so every run would renew every certificate"
            )
        return self.model_copy(update={"leaf_validity_days": leaf})


def pki_options(cluster: Cluster) -> PkiOptions:
    """The cluster's PKI options, checked against its Kubernetes type.

    Reads ``spec.kubernetes.certificates`` when the model has it (a model with the same field
    names, or a mapping with the YAML names), else the defaults.
    """
    raw = getattr(cluster.spec.kubernetes, "certificates", None)
    try:
        options = PkiOptions() if raw is None else PkiOptions.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{_FIELD}.{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}"
            for issue in error.errors()
        )
        raise PkiError(problems) from None
    return options.checked(cluster.spec.kubernetes.type)
