"""The kube-apiserver double against a real etcd and the real kubectl, on loopback.

What is pinned here is the contract other tests build on (tests/doubles/README.md): the flags it
refuses like the real binary, TLS with the cluster PKI and client certificates from its CA, the
health endpoints, objects stored in etcd (shared by several doubles), kubectl's apply/wait/
rollout flows, Nodes made Ready by a kubelet's heartbeat, and bootstrap-token authentication.
"""

from __future__ import annotations

import json
import secrets
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubexms.kubernetes.binary._encryption import encryption_config
from tests.doubles import SYSTEM_PYTHON, build_double, double_script, real_kubectl
from tests.doubles.kube_apiserver_double.etcd import EtcdClient
from tests.doubles.local_api import LocalApi, apiserver_flags, local_api

NAMESPACE_AND_CRD = """\
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: demo}
data: {a: "1", b: "2"}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""
DAEMONSET = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: demo}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: {host_network}
      tolerations: [{operator: Exists}]
      containers: [{name: agent, image: "example.com/agent:1"}]
"""


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApi]:
    with local_api(tmp_path_factory.mktemp("apiserver")) as started:
        yield started


def write(api: LocalApi, name: str, text: str) -> Path:
    path = api.directory / name
    path.write_text(text)
    return path


def answer(
    api: LocalApi,
    method: str,
    path: str,
    status: int,
    body: Any = None,
    *,
    client: str | None = "admin.conf",
    headers: dict[str, str] | None = None,
    port: int | None = None,
) -> bytes:
    """The body of one request as the client of the PKI kubeconfig ``client`` (None: no
    certificate), which must answer ``status`` (the body shows when it does not)."""
    code, got = api.request(method, path, body, client=client, headers=headers, port=port)
    assert code == status, (method, path, got)
    return got


def run_double(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SYSTEM_PYTHON), str(double_script("kube-apiserver")), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


# -- the command line ------------------------------------------------------------------------


def test_says_it_is_a_double() -> None:
    done = run_double("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == "Kubernetes v1.32.0 (kubexms test double)"


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--insecure-port=8080", "unknown flag: --insecure-port"),  # removed in 1.24
        ("--logtostderr=true", "unknown flag: --logtostderr"),  # removed in 1.26
        ("--no-such-flag", "unknown flag: --no-such-flag"),
        ("--secure-port=abc", 'invalid argument "abc" for "--secure-port"'),
        ("--allow-privileged=maybe", 'invalid argument "maybe" for "--allow-privileged"'),
        ("--authorization-mode=Node,Magic", "authorization-mode 'Magic' is not a valid mode"),
    ],
)
def test_refuses_what_the_real_binary_refuses(api: LocalApi, flag: str, message: str) -> None:
    done = run_double(*apiserver_flags(api.pki, api.etcd_url, 1), flag)
    assert done.returncode == 1
    assert message in done.stderr


def test_requires_etcd_and_service_account_flags(api: LocalApi) -> None:
    flags = [
        f
        for f in apiserver_flags(api.pki, api.etcd_url, 1)
        if not f.startswith(("--etcd-servers", "--service-account-issuer"))
    ]
    done = run_double(*flags)
    assert done.returncode == 1
    assert "--etcd-servers must be specified" in done.stderr
    assert "--service-account-issuer is a required flag" in done.stderr


def test_a_missing_certificate_file_is_named(api: LocalApi, tmp_path: Path) -> None:
    missing = tmp_path / "nope.crt"
    done = run_double(*apiserver_flags(api.pki, api.etcd_url, 1), f"--tls-cert-file={missing}")
    assert done.returncode == 1
    assert f"--tls-cert-file: open {missing}: no such file or directory" in done.stderr


def test_the_artifact_is_one_executable_reporting_its_version(tmp_path: Path) -> None:
    release = build_double("kube-apiserver", "v1.33.6", tmp_path / "store")
    assert release.path.name == "kube-apiserver"
    assert release.path.read_bytes().startswith(f"#!{SYSTEM_PYTHON}\n".encode())
    done = subprocess.run(
        [str(release.path), "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.stdout.strip() == "Kubernetes v1.33.6 (kubexms test double)"
    refused = subprocess.run(
        [str(release.path), "--bogus"], capture_output=True, text=True, timeout=30, check=False
    )
    assert refused.returncode == 1
    assert "unknown flag: --bogus" in refused.stderr


# -- TLS, authentication, health -------------------------------------------------------------


def test_health_is_public_and_ready_with_etcd(api: LocalApi) -> None:
    for path in ("/healthz", "/livez", "/readyz", "/version"):
        answer(api, "GET", path, 200, client=None)
    assert answer(api, "GET", "/readyz", 200, client=None) == b"ok"
    body = answer(api, "GET", "/readyz?verbose", 200, client=None)
    assert b"[+]etcd ok" in body
    assert b"readyz check passed" in body
    assert api.kubectl("get", "--raw", "/readyz").stdout == "ok"


def test_anything_else_needs_a_client_certificate_of_the_ca(api: LocalApi) -> None:
    body = answer(api, "GET", "/api/v1/namespaces", 403, client=None)
    assert b'User \\"system:anonymous\\" cannot list resource \\"namespaces\\"' in body
    answer(api, "GET", "/api", 403, client=None)
    context = ssl.create_default_context(cafile=str(api.pki / "ca.crt"))
    context.load_cert_chain(api.pki / "front-proxy-client.crt", api.pki / "front-proxy-client.key")
    with (
        socket.create_connection(("127.0.0.1", api.ports[0])) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        pytest.raises((ssl.SSLError, ConnectionError)),
    ):
        _exchange(tls)  # TLS 1.3 reports the refused certificate after the handshake
    answer(api, "GET", "/api/v1/namespaces", 200)


def _exchange(tls: ssl.SSLSocket) -> bytes:
    tls.sendall(b"GET /api HTTP/1.1\r\nHost: x\r\n\r\n")
    return tls.recv(1)


def test_serves_the_pki_serving_certificate(api: LocalApi) -> None:
    context = api.client_context(None)
    with (
        socket.create_connection(("127.0.0.1", api.ports[0])) as raw,
        context.wrap_socket(raw, server_hostname="kubernetes.default.svc") as tls,
    ):
        assert tls.getpeercert() is not None  # verified against the cluster CA and its SANs


def test_not_ready_while_etcd_is_down(tmp_path: Path) -> None:
    with local_api(tmp_path) as api:
        api.etcd_process.send_signal(signal.SIGSTOP)  # etcd hangs: no answer, no refusal
        try:
            body = answer(api, "GET", "/readyz?verbose", 500, client=None)
            assert b"[-]etcd failed: reason withheld" in body
            answer(api, "GET", "/healthz", 500, client=None)
        finally:
            api.etcd_process.send_signal(signal.SIGCONT)
        answer(api, "GET", "/readyz", 200, client=None)


# -- objects through the real kubectl --------------------------------------------------------


def test_apply_server_side_makes_a_crd_kind_discoverable(api: LocalApi) -> None:
    manifest = write(api, "base.yaml", NAMESPACE_AND_CRD)
    out = api.kubectl("apply", "--server-side", "--field-manager=kubexms", "-f", str(manifest))
    assert (
        "customresourcedefinition.apiextensions.k8s.io/widgets.example.com serverside-applied"
        in out.stdout
    )
    api.kubectl("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=30s")
    widget = write(
        api,
        "widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\n"
        "metadata: {name: w1, namespace: demo}\nspec: {size: 3}\n",
    )
    api.kubectl("apply", "--server-side", "--field-manager=kubexms", "-f", str(widget))
    got = json.loads(
        api.kubectl("get", "wd", "w1", "-n", "demo", "-o", "json", "--show-managed-fields").stdout
    )
    assert got["spec"] == {"size": 3}
    assert got["metadata"]["managedFields"][0]["manager"] == "kubexms"


def test_reapplying_drops_the_fields_the_manager_no_longer_sets(api: LocalApi) -> None:
    manifest = write(
        api,
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: reapply, namespace: default}\ndata: {a: '1', b: '2'}\n",
    )
    api.kubectl("apply", "--server-side", "--field-manager=kubexms", "-f", str(manifest))
    manifest.write_text(manifest.read_text().replace(", b: '2'", ""))
    api.kubectl("apply", "--server-side", "--field-manager=kubexms", "-f", str(manifest))
    got = json.loads(api.kubectl("get", "cm", "reapply", "-o", "json").stdout)
    assert got["data"] == {"a": "1"}


def test_another_managers_field_is_a_conflict_unless_forced(api: LocalApi) -> None:
    manifest = write(
        api,
        "owned.yaml",
        "apiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: owned, namespace: default}\ndata: {a: '1'}\n",
    )
    api.kubectl("apply", "--server-side", "--field-manager=first", "-f", str(manifest))
    manifest.write_text(manifest.read_text().replace("'1'", "'2'"))
    refused = api.kubectl(
        "apply", "--server-side", "--field-manager=second", "-f", str(manifest), check=False
    )
    assert refused.returncode != 0
    assert 'conflict with "first"' in refused.stderr
    api.kubectl(
        "apply", "--server-side", "--field-manager=second", "--force-conflicts", "-f", str(manifest)
    )
    got = json.loads(api.kubectl("get", "cm", "owned", "-o", "json").stdout)
    assert got["data"] == {"a": "2"}


def test_strict_validation_refuses_unknown_fields(api: LocalApi) -> None:
    manifest = write(
        api,
        "bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: bad, namespace: default, colour: red}\ndata: {}\n",
    )
    done = api.kubectl(
        "apply", "--server-side", "--field-manager=kubexms", "-f", str(manifest), check=False
    )
    assert done.returncode != 0
    assert 'strict decoding error: unknown field "metadata.colour"' in done.stderr


def test_create_get_delete_and_wait_for_deletion(api: LocalApi) -> None:
    manifest = write(
        api,
        "secret.yaml",
        "apiVersion: v1\nkind: Secret\n"
        "metadata: {name: s1, namespace: default}\nstringData: {token: abc}\n",
    )
    api.kubectl("create", "-f", str(manifest))
    again = api.kubectl("create", "-f", str(manifest), check=False)
    assert 'secrets "s1" already exists' in again.stderr
    got = json.loads(api.kubectl("get", "secret", "s1", "-o", "json").stdout)
    assert got["data"] == {"token": "YWJj"}
    assert "stringData" not in got
    api.kubectl("delete", "-f", str(manifest), "--wait=true", "--timeout=30s")
    gone = api.kubectl("get", "secret", "s1", check=False)
    assert 'secrets "s1" not found' in gone.stderr


def test_typed_protobuf_bodies_are_refused_clearly(api: LocalApi) -> None:
    done = api.kubectl("create", "namespace", "typed", check=False)
    assert done.returncode != 0
    assert "reads JSON only" in done.stderr


def test_two_doubles_share_state_through_etcd(api: LocalApi) -> None:
    second = api.start_apiserver()
    manifest = write(
        api,
        "shared.yaml",
        "apiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: shared, namespace: default}\ndata: {x: 'y'}\n",
    )
    api.kubectl("apply", "--server-side", "--field-manager=kubexms", "-f", str(manifest))
    other = api.kubeconfig(port=second)
    got = json.loads(api.kubectl("get", "cm", "shared", "-o", "json", kubeconfig=other).stdout)
    assert got["data"] == {"x": "y"}
    first_rv = json.loads(api.kubectl("get", "cm", "shared", "-o", "json").stdout)
    assert first_rv["metadata"]["resourceVersion"] == got["metadata"]["resourceVersion"]


# -- nodes, heartbeats and workload status ---------------------------------------------------


def heartbeat(api: LocalApi, node: str, ready: str, age: float = 0.0) -> None:
    api.register_node(node, ready, age=age)


def node_ready(api: LocalApi, node: str) -> str:
    got = json.loads(api.kubectl("get", "node", node, "-o", "json").stdout)
    return str(next(c["status"] for c in got["status"]["conditions"] if c["type"] == "Ready"))


def test_nodes_register_and_turn_unknown_without_heartbeats(api: LocalApi) -> None:
    heartbeat(api, "node1", "True")
    nodes = json.loads(api.kubectl("get", "nodes", "-o", "json").stdout)
    assert "node1" in [n["metadata"]["name"] for n in nodes["items"]]
    api.kubectl("wait", "--for=condition=Ready", "node/node1", "--timeout=10s")
    heartbeat(api, "stale", "True", age=120)
    deadline = time.monotonic() + 10
    while node_ready(api, "stale") != "Unknown" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert node_ready(api, "stale") == "Unknown"
    api.kubectl("delete", "node", "stale")


def test_rollout_status_follows_the_nodes(api: LocalApi) -> None:
    heartbeat(api, "node1", "False")  # no CNI yet: the kubelet reports NotReady
    api.kubectl(
        "apply",
        "--server-side",
        "--field-manager=kubexms",
        "-f",
        str(write(api, "base.yaml", NAMESPACE_AND_CRD)),
    )
    host = write(api, "host.yaml", DAEMONSET.replace("{host_network}", "true"))
    api.kubectl("apply", "--server-side", "--field-manager=kubexms", "-f", str(host))
    api.kubectl("rollout", "status", "daemonset/agent", "-n", "demo", "--timeout=20s")
    pod_network = write(
        api, "pods.yaml", DAEMONSET.replace("{host_network}", "false").replace("agent", "netpod")
    )
    api.kubectl("apply", "--server-side", "--field-manager=kubexms", "-f", str(pod_network))
    waiting = api.kubectl(
        "rollout", "status", "daemonset/netpod", "-n", "demo", "--timeout=3s", check=False
    )
    assert waiting.returncode != 0
    assert "updated pods are available" in waiting.stdout
    heartbeat(api, "node1", "True")  # the CNI works now
    api.kubectl("rollout", "status", "daemonset/netpod", "-n", "demo", "--timeout=20s")
    status = json.loads(api.kubectl("get", "ds", "netpod", "-n", "demo", "-o", "json").stdout)
    assert status["status"]["desiredNumberScheduled"] >= 1
    assert status["status"]["numberReady"] == status["status"]["desiredNumberScheduled"]


# -- bootstrap tokens ------------------------------------------------------------------------


def test_a_bootstrap_token_authenticates_for_the_tls_bootstrap(api: LocalApi) -> None:
    secret = write(
        api,
        "token.yaml",
        """\
apiVersion: v1
kind: Secret
metadata: {name: bootstrap-token-abcdef, namespace: kube-system}
type: bootstrap.kubernetes.io/token
stringData:
  token-id: abcdef
  token-secret: 0123456789abcdef
  usage-bootstrap-authentication: "true"
  usage-bootstrap-signing: "true"
  auth-extra-groups: system:bootstrappers:kubeadm:default-node-token
---
# What kubeadm init binds for its tokens (kubeadm:kubelet-bootstrap): without it, 403.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "kubeadm:kubelet-bootstrap"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:node-bootstrapper"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group,
   name: "system:bootstrappers:kubeadm:default-node-token"}
""",
    )
    api.kubectl("apply", "--server-side", "--field-manager=kubeadm", "-f", str(secret))
    bearer = {"Authorization": "Bearer abcdef.0123456789abcdef"}
    csr = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": "node-csr-1"},
        "spec": {
            "request": "",
            "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
            "usages": ["client auth"],
        },
    }
    csrs = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
    answer(api, "POST", csrs, 201, csr, client=None, headers=bearer)
    secrets = "/api/v1/namespaces/kube-system/secrets"
    answer(api, "GET", secrets, 403, client=None, headers=bearer)
    wrong = {"Authorization": "Bearer abcdef.ffffffffffffffff"}
    answer(api, "GET", "/api", 401, client=None, headers=wrong)


def test_csr_approval_only_through_its_subresource(api: LocalApi) -> None:
    csrs = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
    csr = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": "approval-test"},
        "spec": {
            "request": "",
            "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
            "usages": ["client auth"],
        },
    }
    body = answer(api, "POST", csrs, 201, csr)
    approved = {"type": "Approved", "status": "True", "reason": "Test", "message": "ok"}
    sneaky = {**json.loads(body), "status": {"conditions": [approved], "certificate": "Y2VydA=="}}
    body = answer(api, "PUT", f"{csrs}/approval-test/status", 200, sneaky)
    assert json.loads(body)["status"] == {"certificate": "Y2VydA=="}  # approval is not status's
    current = json.loads(body)
    current["status"]["conditions"] = [approved]
    body = answer(api, "PUT", f"{csrs}/approval-test/approval", 200, current)
    assert json.loads(body)["status"]["conditions"][0]["type"] == "Approved"
    listed = json.loads(answer(api, "GET", "/apis/certificates.k8s.io/v1", 200))
    assert "certificatesigningrequests/approval" in [r["name"] for r in listed["resources"]]


# -- encryption at rest ----------------------------------------------------------------------


def test_secrets_are_encrypted_in_etcd_with_binary_modes_configuration(api: LocalApi) -> None:
    config = api.directory / "encryption-config.yaml"
    config.write_text(yaml.safe_dump(encryption_config(secrets.token_bytes(32))))
    config.chmod(0o600)
    port = api.start_apiserver(f"--encryption-provider-config={config}")
    kubeconfig = api.kubeconfig(port=port)
    secret = write(
        api,
        "enc.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: enc, namespace: default}\n"
        "stringData: {pw: hunter2}\n",
    )
    apply = ("apply", "--server-side", "--field-manager=kubexms", "-f", str(secret))
    api.kubectl(*apply, kubeconfig=kubeconfig)
    shown = api.kubectl("get", "secret", "enc", "-o", "json", kubeconfig=kubeconfig)
    got = json.loads(shown.stdout)
    assert got["data"] == {"pw": "aHVudGVyMg=="}
    raw = EtcdClient(
        [api.etcd_url],
        str(api.pki / "etcd" / "ca.crt"),
        str(api.pki / "apiserver-etcd-client.crt"),
        str(api.pki / "apiserver-etcd-client.key"),
    ).get_stored("/registry/secrets/default/enc")
    assert raw is not None
    assert raw.startswith(b"k8s:enc:aescbc:v1:kubexms-1:")
    assert b"aHVudGVyMg" not in raw
    assert b"hunter2" not in raw
    # a double without the key cannot read it: a 500, never the plaintext
    refused = api.kubectl("get", "secret", "enc", "-o", "json", check=False)
    assert refused.returncode != 0
    assert "hunter2" not in refused.stdout + refused.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(kind="Other"), "not an EncryptionConfiguration"),
        (lambda d: d["resources"][0].update(extra=1), 'unknown field "extra"'),
        (
            lambda d: d["resources"][0]["providers"][0]["aescbc"]["keys"][0].update(secret="YQ=="),
            "secret: Invalid value: aescbc keys are 16 or 24 or 32 bytes, this one 1",
        ),
        (lambda d: d["resources"][0].update(providers=[]), "providers: Required value"),
    ],
)
def test_a_bad_encryption_configuration_is_refused(
    api: LocalApi, tmp_path: Path, change: Any, message: str
) -> None:
    document = encryption_config(secrets.token_bytes(32))
    change(document)
    config = tmp_path / "encryption.yaml"
    config.write_text(yaml.safe_dump(document))
    done = run_double(
        *apiserver_flags(api.pki, api.etcd_url, 1), f"--encryption-provider-config={config}"
    )
    assert done.returncode == 1
    assert message in done.stderr


@pytest.mark.parametrize("minor", ["1.31", "1.33"])
def test_the_other_kubectl_minors_work_too(api: LocalApi, minor: str) -> None:
    """The flows above run with kubectl 1.32; 1.31 and 1.33 discover and validate alike."""
    other = LocalApi(api.directory, api.pki, api.etcd_url, real_kubectl(minor), api.etcd_process)
    other.ports = api.ports
    assert other.kubectl("version", "-o", "json").returncode == 0
    assert other.kubectl("get", "--raw", "/readyz").stdout == "ok"
    crd = (
        NAMESPACE_AND_CRD.replace("widgets", f"gadgets{minor[-2:]}")
        .replace("Widget", f"Gadget{minor[-2:]}")
        .replace("widget", f"gadget{minor[-2:]}")
        .replace("wd]", f"gd{minor[-2:]}]")
    )
    manifest = write(api, f"crd-{minor}.yaml", crd)
    other.kubectl("apply", "--server-side", "--field-manager=kubexms", "-f", str(manifest))
    other.kubectl("wait", "--for=condition=Established", f"crd/gadgets{minor[-2:]}.example.com",
                  "--timeout=30s")  # fmt: skip
    api.register_node("node1", "True")
    daemonset = write(api, f"ds-{minor}.yaml", DAEMONSET.replace("{host_network}", "true")
                      .replace("agent", f"agent{minor[-2:]}"))  # fmt: skip
    other.kubectl("apply", "--server-side", "--field-manager=kubexms", "-f", str(daemonset))
    other.kubectl("rollout", "status", f"daemonset/agent{minor[-2:]}", "-n", "demo",
                  "--timeout=20s")  # fmt: skip
    nodes = json.loads(other.kubectl("get", "nodes", "-o", "json").stdout)
    assert "node1" in [n["metadata"]["name"] for n in nodes["items"]]
    other.kubectl("delete", "-f", str(daemonset), "--timeout=30s")


# -- RBAC, reported -------------------------------------------------------------------------

CLUSTER_ADMINS_BINDING = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "kubeadm:cluster-admins"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "kubeadm:cluster-admins"}]
"""


def test_rbac_is_enforced_until_the_binding_exists(tmp_path: Path) -> None:
    with local_api(tmp_path, admins=False) as api:
        config = write(api, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\n"
                       "metadata: {name: rbac, namespace: default}\ndata: {}\n")  # fmt: skip
        apply = ("apply", "--server-side", "--field-manager=kubexms", "-f", str(config))
        early = api.kubectl(*apply, check=False)  # admin.conf: kubeadm:cluster-admins, unbound
        assert early.returncode != 0
        assert (
            'configmaps "rbac" is forbidden: User "kubernetes-admin" cannot patch resource '
            '"configmaps" in API group "" in the namespace "default"'
        ) in early.stderr
        super_admin = api.kubeconfig("super-admin.conf")  # system:masters: always allowed
        binding = write(api, "crb.yaml", CLUSTER_ADMINS_BINDING)
        api.kubectl("apply", "--server-side", "--field-manager=kubeadm", "-f", str(binding),
                    kubeconfig=super_admin)  # fmt: skip
        api.kubectl(*apply)
        # The Node authorizer: a node reads nodes, not secrets, and patches its status.
        answer(api, "GET", "/api/v1/nodes", 200, client="kubelet-node1.conf")
        body = answer(api, "GET", "/api/v1/namespaces/default/secrets", 403,
                      client="kubelet-node1.conf")  # fmt: skip
        assert json.loads(body)["message"] == (
            'secrets is forbidden: User "system:node:node1" cannot list resource "secrets" in '
            'API group "" in the namespace "default"'
        )
        body = answer(api, "GET", "/metrics", 403, client=None)
        assert json.loads(body)["message"] == (
            'forbidden: User "system:anonymous" cannot get path "/metrics"')  # fmt: skip


def test_rbac_rules_match_like_upstream() -> None:
    from tests.doubles.kube_apiserver_double.rbac import rule_allows

    pods = {"group": "", "plural": "pods", "namespace": "a", "name": "p", "subresource": ""}
    logs = {**pods, "subresource": "log"}
    read = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}
    assert rule_allows(read, "get", pods, "")
    assert not rule_allows(read, "delete", pods, "")
    assert not rule_allows(read, "get", logs, "")  # a subresource is named on its own
    assert rule_allows({**read, "resources": ["pods/log"]}, "get", logs, "")
    assert not rule_allows({**read, "resourceNames": ["other"]}, "get", pods, "")
    health = {"nonResourceURLs": ["/healthz", "/apis/*"], "verbs": ["get"]}
    assert rule_allows(health, "get", {}, "/apis/apps/v1")
    assert not rule_allows(health, "get", {}, "/metrics")


def test_kubectl_get_prints_the_node_table(api: LocalApi) -> None:
    api.register_node("table-node", "False")
    listed = api.kubectl("get", "nodes", "table-node").stdout.splitlines()
    assert listed[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert listed[1].split()[:3] == ["table-node", "NotReady", "<none>"]
    namespaces = api.kubectl("get", "namespaces").stdout.splitlines()
    assert namespaces[0].split() == ["NAME", "AGE"]
    assert "kube-system" in [line.split()[0] for line in namespaces[1:]]
    everywhere = api.kubectl("get", "services", "-A").stdout.splitlines()
    assert everywhere[0].split() == ["NAMESPACE", "NAME", "AGE"]
