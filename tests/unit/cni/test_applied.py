"""What a rerun reads back from the server: the objects' annotation and the release's
description, and when a DaemonSet counts as rolled out."""

from __future__ import annotations

import json

from kubexms.cni._applied import (
    APPLIED_ANNOTATION,
    HELM_DESCRIPTION_PREFIX,
    annotated,
    applied_digests,
    helm_fingerprint,
    helm_release_current,
    helm_release_note,
    manifest_digest,
    objects_missing,
)
from kubexms.cni._wait import daemonset_rolled_out

OBJECTS = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}},
    {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "b", "annotations": {"keep": "me"}},
    },
]


def test_annotation_marks_copies_with_the_digest_of_the_plain_objects() -> None:
    marked, digest = annotated(OBJECTS)
    assert digest == manifest_digest(OBJECTS)
    assert [obj["metadata"]["annotations"][APPLIED_ANNOTATION] for obj in marked] == [digest] * 2
    assert marked[1]["metadata"]["annotations"]["keep"] == "me"
    assert "annotations" not in OBJECTS[0]["metadata"]  # the input is not changed
    changed = [OBJECTS[0], {**OBJECTS[1], "metadata": {"name": "c"}}]
    assert manifest_digest(changed) != digest


def test_what_kubectl_get_returns_is_compared_object_by_object() -> None:
    marked, digest = annotated(OBJECTS)
    listed = json.dumps({"kind": "List", "items": marked})
    assert applied_digests(listed) == [digest, digest]
    assert objects_missing(2, digest, applied_digests(listed)) == 0
    one = json.dumps(marked[0])  # kubectl prints one object, not a List, for one match
    assert applied_digests(one) == [digest]
    assert objects_missing(2, digest, applied_digests(one)) == 1
    assert applied_digests("") == []  # --ignore-not-found and nothing there
    stale = json.dumps({"kind": "List", "items": [*OBJECTS]})
    assert objects_missing(2, digest, applied_digests(stale)) == 2


def test_a_release_is_current_when_deployed_from_the_same_inputs() -> None:
    fingerprint = helm_fingerprint(["chart", "v1", "a: 1\n"])
    assert fingerprint != helm_fingerprint(["chart", "v1a", ": 1\n"])  # parts are delimited
    status = {"info": {"status": "deployed", "description": HELM_DESCRIPTION_PREFIX + fingerprint}}
    assert helm_release_current(json.dumps(status), fingerprint) == (True, "")
    status["info"]["status"] = "failed"
    assert helm_release_current(json.dumps(status), fingerprint) == (False, "release is failed")
    status["info"] = {"status": "deployed", "description": "Upgrade complete"}
    assert helm_release_current(json.dumps(status), fingerprint)[0] is False
    assert helm_release_current("not json", fingerprint) == (False, "release status unreadable")


def test_the_summary_says_the_releases_state_revision_and_chart() -> None:
    status = {
        "name": "ingress-nginx",
        "namespace": "ingress",
        "version": 2,
        "info": {"status": "deployed", "description": HELM_DESCRIPTION_PREFIX + "0" * 64},
        "chart": {"metadata": {"name": "ingress-nginx", "version": "4.11.2"}},
    }
    note = "ingress-nginx deployed, revision 2, chart ingress-nginx-4.11.2"
    assert helm_release_note(json.dumps(status)) == note
    assert helm_release_note(json.dumps({"name": "x", "info": {}})) == "x unknown"
    assert helm_release_note("[]") == "release status unreadable"


def test_a_daemonset_is_rolled_out_when_every_scheduled_pod_is_current_and_available() -> None:
    daemonset = {
        "metadata": {"generation": 2},
        "status": {
            "observedGeneration": 2,
            "desiredNumberScheduled": 3,
            "updatedNumberScheduled": 3,
            "numberAvailable": 3,
        },
    }
    assert daemonset_rolled_out(daemonset)
    for key, value in (
        ("observedGeneration", 1),
        ("updatedNumberScheduled", 2),
        ("numberAvailable", 2),
    ):
        assert not daemonset_rolled_out(
            {**daemonset, "status": {**daemonset["status"], key: value}}
        )
    assert not daemonset_rolled_out({"metadata": {"generation": 1}, "status": {}})
