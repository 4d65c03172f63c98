"""Admission: the NodeRestriction plugin, as upstream's plugin/pkg/admission/noderestriction.

Enabled as on the real apiserver: named by ``--enable-admission-plugins`` and not by
``--disable-admission-plugins`` (it is not one of the default plugins). Other plugins are
accepted by name (an unknown one is refused at start, as upstream) but not modelled.

NodeRestriction limits what a kubelet (user ``system:node:<name>`` in group ``system:nodes``)
may write, after authorization (the Node authorizer lets any node write any Node): its own Node
only, with no taint changed and no label outside the kubelet's allowed set added, changed or
removed (``node-restriction.kubernetes.io/`` never; ``kubernetes.io/`` and ``k8s.io/`` only
``kubernetes.io/hostname``/``os``/``arch``, the instance-type, zone and region labels and the
``kubelet.kubernetes.io``/``node.kubernetes.io`` namespaces); mirror pods bound to itself only;
the status of its own pods, PVC status only; its own Lease in ``kube-node-lease``, its own
CSINode; CSRs for the kubelet signers only with ``CN=system:node:<its name>``. A refusal is 403
with upstream's message (``admission.NewForbidden``).
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass
from typing import Any

from .auth import User
from .errors import ApiError
from .etcd import EtcdClient
from .rbac import pod_references
from .resources import Resource

Json = dict[str, Any]
NODE_RESTRICTION = "NodeRestriction"
# The admission plugins of kube-apiserver 1.31-1.34 (``kube-apiserver --help``).
PLUGINS = frozenset(
    {
        "AlwaysAdmit",
        "AlwaysDeny",
        "AlwaysPullImages",
        "CertificateApproval",
        "CertificateSigning",
        "CertificateSubjectRestriction",
        "ClusterTrustBundleAttest",
        "DefaultIngressClass",
        "DefaultStorageClass",
        "DefaultTolerationSeconds",
        "DenyServiceExternalIPs",
        "EventRateLimit",
        "ExtendedResourceToleration",
        "ImagePolicyWebhook",
        "LimitPodHardAntiAffinityTopology",
        "LimitRanger",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionWebhook",
        "NamespaceAutoProvision",
        "NamespaceExists",
        "NamespaceLifecycle",
        "NodeRestriction",
        "OwnerReferencesPermissionEnforcement",
        "PersistentVolumeClaimResize",
        "PodNodeSelector",
        "PodSecurity",
        "PodTolerationRestriction",
        "PodTopologyLabels",
        "Priority",
        "ResourceQuota",
        "RuntimeClass",
        "ServiceAccount",
        "StorageObjectInUseProtection",
        "TaintNodesByCondition",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionWebhook",
    }
)
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
NODE_LEASE_NAMESPACE = "kube-node-lease"
KUBELET_SIGNERS = ("kubernetes.io/kubelet-serving", "kubernetes.io/kube-apiserver-client-kubelet")
# k8s.io/kubelet/pkg/apis well_known_labels.go: what a kubelet may set on its own Node.
KUBELET_LABELS = frozenset(
    {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "kubernetes.io/os",
        "kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/arch",
    }
)
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
NODE_RESTRICTION_NAMESPACE = "node-restriction.kubernetes.io"


def enabled_plugins(enable: list[str], disable: list[str]) -> set[str]:
    """The plugins ``--enable-admission-plugins`` turns on (the double models NodeRestriction
    only); an unknown name is upstream's start-up error."""
    for flag, names in (("enable", enable), ("disable", disable)):
        for name in names:
            if name not in PLUGINS:
                raise ValueError(f'{flag}-admission-plugins plugin "{name}" is unknown')
    if both := sorted(set(enable) & set(disable)):
        raise ValueError(
            f"[{' '.join(both)}] in enable-admission-plugins and disable-admission-plugins "
            "overlapped"
        )
    return set(enable) - set(disable)


@dataclass(frozen=True)
class Attributes:
    """What a write looks like to admission (``admission.Attributes``)."""

    operation: str  # CREATE, UPDATE or DELETE
    resource: Resource
    namespace: str
    name: str  # on create: the object's name, else its generateName (as NewForbidden names it)
    subresource: str
    obj: Json | None  # the new object (None on delete)
    old: Json | None  # the stored object (None on create)


def forbidden(a: Attributes, reason: str) -> ApiError:
    """``admission.NewForbidden``: ``<resource>[.group] "<name>" is forbidden: <reason>``."""
    group, plural = a.resource.group, a.resource.plural
    qualified = f"{plural}.{group}" if group else plural
    subject = f'{qualified} "{a.name}"' if a.name else qualified
    details: Json = {"kind": plural, **({"name": a.name} if a.name else {})}
    if group:
        details["group"] = group
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {reason}", details)


def node_identity(user: User) -> tuple[str, bool]:
    """``nodeidentifier.NodeIdentity``: (node name, whether the user is a node)."""
    if not user.name.startswith("system:node:") or "system:nodes" not in user.groups:
        return "", False
    return user.name.removeprefix("system:node:"), True


def _label_namespace(key: str) -> str:
    prefix, slash, _ = key.partition("/")
    return prefix if slash else ""


def _is_kubernetes_label(key: str) -> bool:
    namespace = _label_namespace(key)
    return any(namespace == d or namespace.endswith(f".{d}") for d in ("kubernetes.io", "k8s.io"))


def is_kubelet_label(key: str) -> bool:
    namespace = _label_namespace(key)
    return key in KUBELET_LABELS or any(
        namespace == allowed or namespace.endswith(f".{allowed}")
        for allowed in KUBELET_LABEL_NAMESPACES
    )


def forbidden_labels(new: dict[str, str], old: dict[str, str]) -> list[str]:
    """The labels added, changed or removed that a node may not touch, sorted."""
    modified = {
        k for k in new.keys() | old.keys() if (k in new, new.get(k)) != (k in old, old.get(k))
    }
    found = set()
    for key in modified:
        namespace = _label_namespace(key)
        if namespace == NODE_RESTRICTION_NAMESPACE or namespace.endswith(
            f".{NODE_RESTRICTION_NAMESPACE}"
        ):
            found.add(key)
        if _is_kubernetes_label(key) and not is_kubelet_label(key):
            found.add(key)
    return sorted(found)


class NodeRestriction:
    """The plugin (see the module docstring); ``admit`` raises the 403 or returns."""

    def __init__(self, etcd: EtcdClient) -> None:
        self.etcd = etcd

    def admit(self, user: User, a: Attributes) -> None:
        node, is_node = node_identity(user)
        if not is_node:
            return
        if not node:
            raise forbidden(a, f'could not determine node from user "{user.name}"')
        group, plural = a.resource.group, a.resource.plural
        if (group, plural) == ("", "pods"):
            self._pod(node, a)
        elif (group, plural) == ("", "nodes"):
            self._node(node, a)
        elif (group, plural) == ("", "persistentvolumeclaims"):
            if a.subresource != "status":
                raise forbidden(a, "may only update PVC status")
            self._pvc_status(node, a)
        elif (group, plural) == ("coordination.k8s.io", "leases"):
            if a.namespace != NODE_LEASE_NAMESPACE:
                raise forbidden(
                    a, f'can only access leases in the "{NODE_LEASE_NAMESPACE}" system namespace'
                )
            if a.name != node:
                raise forbidden(
                    a, "can only access node lease with the same name as the requesting node"
                )
        elif (group, plural) == ("storage.k8s.io", "csinodes"):
            if a.name != node:
                raise forbidden(
                    a, "can only access CSINode with the same name as the requesting node"
                )
        elif (group, plural) == ("certificates.k8s.io", "certificatesigningrequests"):
            self._csr(node, a)

    # -- nodes -------------------------------------------------------------------------------
    def _node(self, node: str, a: Attributes) -> None:
        if a.name != node:
            raise forbidden(a, f'node "{node}" is not allowed to modify node "{a.name}"')
        new = a.obj or {}
        spec = new.get("spec") or {}
        labels = (new.get("metadata") or {}).get("labels") or {}
        if a.operation == "CREATE":
            if spec.get("configSource") is not None:
                raise forbidden(
                    a, f'node "{node}" is not allowed to create pods with a non-nil configSource'
                )
            if refused := forbidden_labels(labels, {}):
                raise forbidden(
                    a,
                    f'node "{node}" is not allowed to set the following labels: '
                    + ", ".join(refused),
                )
        elif a.operation == "UPDATE":
            old = a.old or {}
            old_spec = old.get("spec") or {}
            source = spec.get("configSource")
            if source is not None and source != old_spec.get("configSource"):
                raise forbidden(
                    a,
                    f'node "{node}" is not allowed to update configSource to a new non-nil '
                    "configSource",
                )
            if (spec.get("taints") or []) != (old_spec.get("taints") or []):
                raise forbidden(a, f'node "{node}" is not allowed to modify taints')
            old_labels = (old.get("metadata") or {}).get("labels") or {}
            if refused := forbidden_labels(labels, old_labels):
                raise forbidden(a, "is not allowed to modify labels: " + ", ".join(refused))

    # -- pods --------------------------------------------------------------------------------
    def _pod(self, node: str, a: Attributes) -> None:
        if a.subresource == "status":
            if a.operation != "UPDATE":
                raise forbidden(a, f'unexpected operation "{a.operation}"')
            old, new = a.old or {}, a.obj or {}
            if ((old.get("spec") or {}).get("nodeName") or "") != node:
                message = f'node "{node}" can only update pod status for pods with spec.nodeName'
                raise forbidden(a, f"{message} set to itself")
            old_labels = (old.get("metadata") or {}).get("labels") or {}
            if old_labels != ((new.get("metadata") or {}).get("labels") or {}):
                raise forbidden(a, f'node "{node}" cannot update labels through pod status')
            return
        if a.subresource:
            raise forbidden(
                a,
                f"unexpected pod subresource \"{a.subresource}\", only 'status' and "
                "'eviction' are allowed",
            )
        if a.operation == "DELETE":
            if ((a.old or {}).get("spec") or {}).get("nodeName") != node:
                raise forbidden(
                    a, f'node "{node}" can only delete pods with spec.nodeName set to itself'
                )
        elif a.operation == "CREATE":
            self._mirror_pod(node, a, a.obj or {})
        else:
            raise forbidden(
                a,
                f'unexpected operation "{a.operation}", node "{node}" can only create and '
                "delete mirror pods",
            )

    def _mirror_pod(self, node: str, a: Attributes, pod: Json) -> None:
        metadata, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        if MIRROR_POD_ANNOTATION not in (metadata.get("annotations") or {}):
            raise forbidden(
                a,
                f'pod does not have "{MIRROR_POD_ANNOTATION}" annotation, node "{node}" can '
                "only create mirror pods",
            )
        if spec.get("nodeName") != node:
            raise forbidden(
                a, f'node "{node}" can only create pods with spec.nodeName set to itself'
            )
        owners = metadata.get("ownerReferences") or []
        if len(owners) > 1:
            raise forbidden(
                a, f'node "{node}" can only create pods with a single owner reference set to itself'
            )
        owner = owners[0] if owners else {}
        if (owner.get("apiVersion"), owner.get("kind"), owner.get("name")) != ("v1", "Node", node):
            raise forbidden(
                a, f'node "{node}" can only create pods with an owner reference set to itself'
            )
        if not owner.get("controller"):
            raise forbidden(
                a,
                f'node "{node}" can only create pods with a controller owner reference set to '
                "itself",
            )
        if owner.get("blockOwnerDeletion"):
            raise forbidden(
                a, f'node "{node}" must not set blockOwnerDeletion on an owner reference'
            )
        stored = self.etcd.get(f"/registry/nodes/{node}")
        if stored is None:
            raise ApiError(
                404, "NotFound", f'nodes "{node}" not found', {"name": node, "kind": "nodes"}
            )
        uid = (json.loads(stored.value).get("metadata") or {}).get("uid")
        if owner.get("uid") != uid:
            raise forbidden(a, f"node {node} UID mismatch: expected {owner.get('uid')} got {uid}")
        if spec.get("serviceAccountName"):
            raise forbidden(
                a, f'node "{node}" can not create pods that reference a service account'
            )
        if spec.get("imagePullSecrets") or pod_references(spec, "secrets") - {""}:
            raise forbidden(a, f'node "{node}" can not create pods that reference secrets')
        if pod_references(spec, "configmaps") - {""}:
            raise forbidden(a, f'node "{node}" can not create pods that reference configmaps')
        for volume in spec.get("volumes") or []:
            sources = (volume.get("projected") or {}).get("sources") or []
            if any("clusterTrustBundle" in source for source in sources):
                raise forbidden(
                    a, f'node "{node}" can not create pods that reference clustertrustbundles'
                )
        if any("persistentVolumeClaim" in volume for volume in spec.get("volumes") or []):
            raise forbidden(
                a, f'node "{node}" can not create pods that reference persistentvolumeclaims'
            )

    # -- persistent volume claims --------------------------------------------------------------
    def _pvc_status(self, node: str, a: Attributes) -> None:
        if a.operation != "UPDATE":
            raise forbidden(a, f'unexpected operation "{a.operation}"')
        comparable = []
        for document in (a.old or {}, a.obj or {}):
            kept = copy.deepcopy(document)
            kept.setdefault("metadata", {}).pop("resourceVersion", None)
            kept["metadata"].pop("managedFields", None)
            status = kept.setdefault("status", {})
            for ignored in ("capacity", "conditions", "allocatedResourceStatuses",
                            "allocatedResources"):  # fmt: skip
                status.pop(ignored, None)
            comparable.append(kept)
        if comparable[0] != comparable[1]:
            raise forbidden(
                a,
                f'node "{node}" is not allowed to update fields other than status.quantity and '
                "status.conditions",
            )

    # -- certificate signing requests ----------------------------------------------------------
    def _csr(self, node: str, a: Attributes) -> None:
        if a.operation != "CREATE":
            return
        spec = (a.obj or {}).get("spec") or {}
        if spec.get("signerName") not in KUBELET_SIGNERS:
            return
        try:
            common_name = csr_common_name(str(spec.get("request") or ""))
        except ValueError as error:
            raise forbidden(a, f"unable to parse csr: {error}") from None
        if common_name != f"system:node:{node}":
            raise forbidden(a, f"can only create a node CSR with CN=system:node:{node}")


def csr_common_name(request: str) -> str:
    """The subject CN of a CSR's ``spec.request`` (base64 of PEM)."""
    from cryptography import x509  # Debian's python3-cryptography; needed for CSRs only
    from cryptography.x509.oid import NameOID

    try:
        parsed = x509.load_pem_x509_csr(base64.b64decode(request))
    except (ValueError, TypeError) as error:
        raise ValueError("PEM block type must be CERTIFICATE REQUEST") from error
    names = parsed.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""
