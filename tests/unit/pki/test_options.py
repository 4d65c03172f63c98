"""PKI options: defaults, where they are read from, and the limits that keep them sensible."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from kubexms.config import Cluster
from kubexms.pki import PkiError, PkiOptions, pki_options

from .support import make_cluster


def cluster_with(kubernetes_type: str, certificates: Any) -> Cluster:
    # Stands for a cluster model that has gained `spec.kubernetes.certificates`.
    kubernetes = SimpleNamespace(type=kubernetes_type, certificates=certificates)
    return cast(Cluster, SimpleNamespace(spec=SimpleNamespace(kubernetes=kubernetes)))


def test_defaults_for_a_cluster_without_the_field() -> None:
    options = pki_options(make_cluster())
    assert options == PkiOptions(
        ca_validity_days=3650, leaf_validity_days=365, key_type="rsa", renew_before_days=30
    )


def test_read_from_yaml_names_or_from_a_model_with_the_same_fields() -> None:
    from_yaml = pki_options(
        cluster_with(
            "kubexm",
            {"caValidityDays": 7300, "leafValidityDays": 1825, "keyType": "ecdsa"},
        )
    )
    assert (from_yaml.ca_validity_days, from_yaml.leaf_days, from_yaml.key_type) == (
        7300,
        1825,
        "ecdsa",
    )
    model = SimpleNamespace(
        ca_validity_days=3650, leaf_validity_days=None, key_type="rsa", renew_before_days=60
    )
    from_model = pki_options(cluster_with("kubeadm", model))
    assert (from_model.leaf_days, from_model.renew_before_days) == (365, 60)


def test_kubeadm_keeps_leaves_to_a_year_and_binaries_may_go_longer() -> None:
    with pytest.raises(PkiError) as raised:
        pki_options(cluster_with("kubeadm", {"leafValidityDays": 730}))
    assert str(raised.value).startswith(
        "spec.kubernetes.certificates.leafValidityDays: 730 is more than 365 days"
    )
    assert "use kubernetes.type kubexm" in str(raised.value)
    assert pki_options(cluster_with("kubexm", {"leafValidityDays": 730})).leaf_days == 730


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"leafValidityDays": 4000},
            "leafValidityDays: 4000 days is longer than the CA's 3650 days (caValidityDays)",
        ),
        (
            {"renewBeforeDays": 365},
            "renewBeforeDays: 365 days is not shorter than the leaf lifetime of 365 days",
        ),
        ({"keyType": "dsa"}, "keyType: Input should be 'rsa' or 'ecdsa'"),
        ({"caValidityDays": 0}, "caValidityDays: Input should be greater than or equal to 1"),
        ({"rsaBits": 4096}, "rsaBits: Extra inputs are not permitted"),
    ],
)
def test_bad_settings_name_the_field(settings: dict[str, object], message: str) -> None:
    with pytest.raises(PkiError) as raised:
        pki_options(cluster_with("kubexm", settings))
    assert f"spec.kubernetes.certificates.{message}" in str(raised.value)
