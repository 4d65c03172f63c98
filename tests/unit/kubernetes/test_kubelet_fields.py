"""The kubelet field table the config check uses is the strict schemas' fields, per minor."""

from __future__ import annotations

from kubexms.config._checks import KUBELET_MANAGED
from kubexms.config._kubelet_fields import KUBELET_FIELDS
from tests.unit.kubernetes.k8s_schemas import MINORS, schema_for


def test_the_table_matches_the_generated_schemas() -> None:
    for minor in MINORS:
        schema = schema_for("KubeletConfiguration", minor)
        properties = schema["$defs"]["KubeletConfiguration"]["properties"]
        fields = set(properties) - {"apiVersion", "kind"}
        known = {
            name
            for name, (_, since) in KUBELET_FIELDS.items()
            if tuple(map(int, since.split("."))) <= tuple(map(int, minor.split(".")))
        }
        assert known == fields, minor
        for name in fields:
            assert KUBELET_FIELDS[name][0] == properties[name].get("type", "object"), name
    assert set(KUBELET_MANAGED) <= set(KUBELET_FIELDS)
