"""The doubles of kube-controller-manager, kube-scheduler and kube-proxy, and binary mode's
kube-apiserver command line and cluster objects, against the kube-apiserver double on a real
etcd (tests/doubles/local_api.py) with the real kubectl.

The doubles are strict about flags and configuration like the real binaries and prove their
kubeconfig over mutual TLS before they listen."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubexms.config import Cluster, parse_config
from kubexms.kubernetes._kubeadm_config import to_yaml
from kubexms.kubernetes._layout import SUPPORTED_MINORS
from kubexms.kubernetes.binary import (
    COMPONENTS,
    apiserver_args,
    binary_kube_proxy_configuration,
    binary_kubelet_configuration,
    cluster_objects_manifest,
    component_flags,
    controller_manager_args,
    encryption_config,
    kubelet_args,
    scheduler_args,
    scheduler_configuration,
)
from kubexms.pki import PkiOptions, generate_pki
from tests.doubles import SYSTEM_PYTHON, double_script
from tests.doubles.control_plane.build import build_control_plane_double
from tests.doubles.doubles_core import csr
from tests.doubles.doubles_core.api import from_kubeconfig
from tests.doubles.doubles_core.flags import component_flags as double_flags
from tests.doubles.local_api import (
    CLUSTER,
    LocalApi,
    calico_objects,
    free_port,
    kubelet_csr,
    local_api,
)

DOUBLES = ("kube-scheduler", "kube-controller-manager", "kube-proxy", "kubelet")


def _binary_cluster() -> Cluster:
    document: dict[str, Any] = yaml.safe_load(yaml.safe_dump(CLUSTER))
    document["spec"]["kubernetes"] = {"type": "kubexm", "version": "v1.32.0"}
    return parse_config(yaml.safe_dump(document), source="cluster.yaml")


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    return _binary_cluster()


@pytest.fixture(scope="module")
def api(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApi]:
    directory = tmp_path_factory.mktemp("local-api")
    # Binary mode's PKI (kube-proxy kubeconfig, serving certificates) for the same hosts.
    generate_pki(cluster, directory / "pki", options=PkiOptions(key_type="ecdsa"))
    with local_api(directory) as started:
        yield started


_RELEASES = Path(tempfile.mkdtemp(prefix="kubexms-double-releases-"))
atexit.register(shutil.rmtree, _RELEASES, ignore_errors=True)


@functools.cache
def _release(binary: str, version: str) -> Path:
    """The release file tests put in the artifact store (what kubexms places on hosts)."""
    return build_control_plane_double(binary, version, _RELEASES / version).path


def _run(
    binary: str, *args: str, version: str = "v1.32.0", wait: str = "20", root: Path | None = None
) -> subprocess.Popen[str]:
    env = {"PATH": "/usr/bin:/bin", "KUBEXMS_DOUBLE_API_WAIT": wait}
    if root is not None:  # the host's paths (/etc/cni/net.d) under this directory
        env["KUBEXMS_DOUBLE_ROOT"] = str(root)
    return subprocess.Popen(
        [str(_release(binary, version)), *args],
        env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _finished(binary: str, *args: str, version: str = "v1.32.0") -> tuple[int, str]:
    process = _run(binary, *args, version=version)
    out, err = process.communicate(timeout=60)
    return process.returncode, out + err


def _get(url: str, process: subprocess.Popen[str], context: ssl.SSLContext | None) -> str:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args!r} exited: {process.communicate()}", pytrace=False)
        try:
            with urllib.request.urlopen(url, context=context, timeout=2) as reply:  # noqa: S310
                return str(reply.read().decode())
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{url} never answered")


def _insecure() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _stopped(process: subprocess.Popen[str]) -> None:
    process.kill()
    process.communicate()


@pytest.mark.parametrize("binary", DOUBLES)
def test_each_double_says_what_it_is(binary: str) -> None:
    code, output = _finished(binary, "--version", version="v1.33.2")
    assert (code, output.strip()) == (0, "Kubernetes v1.33.2 (kubexms test double)")


@pytest.mark.parametrize("binary", ["kube-scheduler", "kube-controller-manager", "kube-proxy"])
def test_the_checkout_scripts_run_the_same_doubles(binary: str) -> None:
    result = subprocess.run(
        [str(SYSTEM_PYTHON), str(double_script(binary)), "--version"],
        env={"PATH": "/usr/bin:/bin", "KUBEXMS_DOUBLE_VERSION": "v1.31.2"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stdout.strip()) == (
        0,
        "Kubernetes v1.31.2 (kubexms test double)",
    )


def test_the_doubles_read_the_same_flag_lists_as_kubexms() -> None:
    for component in COMPONENTS:
        for minor in SUPPORTED_MINORS:
            assert double_flags(component, minor) == component_flags(component, minor)


def test_an_unknown_flag_or_one_of_a_later_version_is_refused_like_cobra() -> None:
    code, output = _finished("kube-scheduler", "--no-such-flag=1")
    assert code == 1
    assert "Error: unknown flag: --no-such-flag" in output
    code, output = _finished("kube-scheduler", "--emulated-version=1.31", version="v1.31.4")
    assert (code, "unknown flag: --emulated-version" in output) == (1, True)
    code, output = _finished("kube-proxy", "stray")
    assert (code, 'unknown command "stray"' in output) == (1, True)


def test_a_config_field_the_version_lacks_is_a_strict_decoding_error(tmp_path: Path) -> None:
    config = tmp_path / "scheduler.yaml"
    config.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
        "clientConnection: {kubeconfig: /x}\nleaderElection: {leaderElect: true, lease: 1}\n"
    )
    code, output = _finished("kube-scheduler", f"--config={config}")
    assert code == 1
    assert 'strict decoding error: unknown field "leaderElection.lease"' in output


def test_the_apiserver_double_runs_with_binary_modes_command_line(
    cluster: Cluster, api: LocalApi, tmp_path: Path
) -> None:
    encryption = tmp_path / "encryption-config.yaml"
    encryption.write_text(yaml.safe_dump(encryption_config(os.urandom(32))))
    encryption.chmod(0o600)
    port = free_port()
    args = {
        name: value.replace("/etc/kubernetes/pki/", f"{api.pki}/")
        for name, value in apiserver_args(cluster, "127.0.0.1").items()
    }
    args["etcd-servers"] = api.etcd_url
    args["secure-port"] = str(port)
    args["bind-address"] = "127.0.0.1"
    args["encryption-provider-config"] = str(encryption)
    process = subprocess.Popen(
        [str(SYSTEM_PYTHON), str(double_script("kube-apiserver")),
         *(f"--{name}={value}" for name, value in args.items())],
        env={"PATH": "/usr/bin:/bin", "KUBEXMS_DOUBLE_VERSION": "v1.32.0"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        ready = _get(f"https://127.0.0.1:{port}/readyz", process, api.client_context())
        assert ready == "ok"
    finally:
        _stopped(process)


def test_kubectl_applies_the_cluster_objects_server_side_twice(
    cluster: Cluster, api: LocalApi, tmp_path: Path
) -> None:
    manifest = tmp_path / "cluster-objects.yaml"
    manifest.write_text(cluster_objects_manifest(cluster, api.pki))
    argv = ["apply", "--server-side", "--field-manager=kubexms", "--force-conflicts", "-f",
            str(manifest)]  # fmt: skip
    first = api.kubectl(*argv)
    assert "clusterrolebinding.rbac.authorization.k8s.io/kubeadm:cluster-admins" in first.stdout
    api.kubectl(*argv)
    info = yaml.safe_load(
        api.kubectl("get", "configmap", "cluster-info", "-n", "kube-public", "-o", "yaml").stdout
    )
    assert "certificate-authority-data" in info["data"]["kubeconfig"]
    service = yaml.safe_load(
        api.kubectl("get", "service", "kube-dns", "-n", "kube-system", "-o", "yaml").stdout
    )
    assert service["spec"]["clusterIP"] == "10.96.0.10"


def test_the_scheduler_proves_its_kubeconfig_then_serves_health(
    cluster: Cluster, api: LocalApi, tmp_path: Path
) -> None:
    kubeconfig = api.kubeconfig("scheduler.conf")
    document = scheduler_configuration(cluster)
    document["clientConnection"]["kubeconfig"] = str(kubeconfig)
    config = tmp_path / "kube-scheduler-config.yaml"
    config.write_text(to_yaml([document]))
    port = free_port()
    args = scheduler_args(cluster)
    args.update({"config": str(config), "authentication-kubeconfig": str(kubeconfig),
                 "authorization-kubeconfig": str(kubeconfig), "secure-port": str(port),
                 "cert-dir": str(tmp_path / "certs")})  # fmt: skip
    process = _run("kube-scheduler", *(f"--{k}={v}" for k, v in args.items()))
    try:
        assert _get(f"https://127.0.0.1:{port}/healthz", process, _insecure()) == "ok"
    finally:
        _stopped(process)


def test_the_controller_manager_takes_every_flag_kubexms_renders(
    cluster: Cluster, api: LocalApi
) -> None:
    kubeconfig = api.kubeconfig("controller-manager.conf")
    args = {
        name: value.replace("/etc/kubernetes/pki/", f"{api.pki}/").replace(
            "/etc/kubernetes/controller-manager.conf", str(kubeconfig)
        )
        for name, value in controller_manager_args(cluster).items()
    }
    port = free_port()
    args["secure-port"] = str(port)
    manifest = api.directory / "binary-cluster-objects.yaml"
    manifest.write_text(cluster_objects_manifest(cluster, api.pki))
    api.kubectl("apply", "--server-side", "--field-manager=kubexms", "--force-conflicts", "-f",
                str(manifest))  # fmt: skip
    process = _run("kube-controller-manager", *(f"--{k}={v}" for k, v in args.items()))
    try:
        assert _get(f"https://127.0.0.1:{port}/healthz", process, _insecure()) == "ok"
        # Its certificate controllers: a kubelet's renewal is approved after a
        # SubjectAccessReview (binary mode binds selfnodeclient to system:nodes) and signed.
        kubelet = from_kubeconfig(api.kubeconfig(api.node_kubeconfig("renewing-node")))
        made = kubelet.request("POST", csr.CSRS, kubelet_csr("system:node:renewing-node"))
        deadline = time.monotonic() + 30
        while (
            not (done := kubelet.get(f"{csr.CSRS}/{made['metadata']['name']}"))
            .get("status", {})
            .get("certificate")
        ):
            assert time.monotonic() < deadline, (done, process.poll())
            time.sleep(0.3)
        assert done["status"]["conditions"][0]["message"] == csr.RECOGNIZERS[0][1]
    finally:
        _stopped(process)


def test_a_signing_key_of_another_pair_is_refused(cluster: Cluster, api: LocalApi) -> None:
    code, output = _finished(
        "kube-controller-manager",
        f"--cluster-signing-cert-file={api.pki / 'ca.crt'}",
        f"--cluster-signing-key-file={api.pki / 'front-proxy-ca.key'}",
        f"--kubeconfig={api.kubeconfig('controller-manager.conf')}",
    )
    assert code == 1
    assert "does not match" in output


def _proxy_config(cluster: Cluster, kubeconfig: Path, port: int, directory: Path) -> Path:
    document = binary_kube_proxy_configuration(cluster, "node1")
    document["clientConnection"]["kubeconfig"] = str(kubeconfig)
    document["healthzBindAddress"] = f"127.0.0.1:{port}"
    config = directory / "kube-proxy.yaml"
    config.write_text(to_yaml([document]))
    return config


def test_kube_proxy_serves_plain_health_after_its_kubeconfig_works(
    cluster: Cluster, api: LocalApi, tmp_path: Path
) -> None:
    port = free_port()
    config = _proxy_config(cluster, api.kubeconfig("kube-proxy.conf"), port, tmp_path)
    process = _run("kube-proxy", f"--config={config}")
    try:
        assert _get(f"http://127.0.0.1:{port}/healthz", process, None) == "ok"
    finally:
        _stopped(process)


def test_a_client_certificate_of_another_ca_never_gets_through(
    cluster: Cluster, api: LocalApi, tmp_path: Path
) -> None:
    other = tmp_path / "other-pki"
    generate_pki(cluster, other, options=PkiOptions(key_type="ecdsa"), only={"kube-proxy"})
    document = yaml.safe_load((other / "kubeconfig" / "kube-proxy.conf").read_text())
    document["clusters"][0]["cluster"]["server"] = api.url
    # The server is trusted (this cluster's CA), the client certificate is not.
    document["clusters"][0]["cluster"]["certificate-authority-data"] = yaml.safe_load(
        api.kubeconfig("kube-proxy.conf").read_text()
    )["clusters"][0]["cluster"]["certificate-authority-data"]
    kubeconfig = tmp_path / "foreign.conf"
    kubeconfig.write_text(yaml.safe_dump(document))
    config = _proxy_config(cluster, kubeconfig, free_port(), tmp_path)
    process = _run("kube-proxy", f"--config={config}", wait="3")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "did not answer /healthz" in err


def test_the_release_file_runs_from_anywhere(tmp_path: Path) -> None:
    release = build_control_plane_double("kube-proxy", "v1.34.1", tmp_path / "releases")
    moved = tmp_path / "elsewhere" / "kube-proxy"
    moved.parent.mkdir()
    moved.write_bytes(release.path.read_bytes())
    moved.chmod(0o755)
    result = subprocess.run([str(moved), "--version"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin"}, timeout=60, check=False)  # fmt: skip
    assert (result.returncode, result.stdout.strip()) == (
        0,
        "Kubernetes v1.34.1 (kubexms test double)",
    )
    refused = subprocess.run([str(moved), "--cleanup-ipvs=true"], capture_output=True, text=True,
                             env={"PATH": "/usr/bin:/bin"}, timeout=60, check=False)  # fmt: skip
    assert refused.returncode == 1
    assert "unknown flag: --cleanup-ipvs" in refused.stderr


def _node_ready(api: LocalApi, name: str, wanted: str) -> dict[str, Any]:
    """The Node once its Ready condition is ``wanted`` (30 s at most)."""
    deadline = time.monotonic() + 30
    while True:
        got = api.kubectl("get", "node", name, "-o", "json", check=False)
        node: dict[str, Any] = yaml.safe_load(got.stdout) if got.returncode == 0 else {}
        ready = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
        if ready.get("Ready") == wanted or time.monotonic() > deadline:
            return node
        time.sleep(0.5)


def test_the_kubelet_registers_its_node_and_serves_only_clients_of_the_ca(
    cluster: Cluster, api: LocalApi, tmp_path: Path
) -> None:
    """... and, once calico's DaemonSet exists, writes its CNI configuration as install-cni
    does, and reports the node Ready."""
    port, health = free_port(), free_port()
    document = binary_kubelet_configuration(cluster)
    document.update(
        {
            "address": "127.0.0.1",
            "port": port,
            "healthzPort": health,
            "nodeStatusUpdateFrequency": "1s",
            "registerWithTaints": [
                {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
            ],
        }
    )
    args = kubelet_args(cluster, "node1", "127.0.0.1")
    # The node's files where binary mode places them, under the double's root directory.
    root = tmp_path / "root"
    placed = {
        document["tlsCertFile"]: api.pki / "kubelet-serving-node1.crt",
        document["tlsPrivateKeyFile"]: api.pki / "kubelet-serving-node1.key",
        document["authentication"]["x509"]["clientCAFile"]: api.pki / "ca.crt",
        args["kubeconfig"]: api.kubeconfig("kubelet-node1.conf"),
    }
    for path, source in placed.items():
        (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, root / path.lstrip("/"))
    (root / args["config"].lstrip("/")).write_text(to_yaml([document]))
    process = _run("kubelet", *(f"--{k}={v}" for k, v in args.items()), root=root)
    try:
        assert _get(f"http://127.0.0.1:{health}/healthz", process, None) == "ok"
        trusted = api.client_context(None)
        trusted.load_cert_chain(api.pki / "apiserver-kubelet-client.crt",
                                api.pki / "apiserver-kubelet-client.key")  # fmt: skip
        trusted.check_hostname = False
        assert _get(f"https://127.0.0.1:{port}/healthz", process, trusted) == "ok"
        anonymous = api.client_context(None)
        anonymous.check_hostname = False
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=anonymous)
        assert refused.value.code == 401
        node = _node_ready(api, "node1", "False")  # no CNI configuration yet
        assert node["spec"]["taints"][0]["key"] == "node-role.kubernetes.io/control-plane"
        assert not (root / "etc/cni/net.d").exists()
        api.kubectl("apply", "--server-side", "-f", str(calico_objects(tmp_path)))
        node = _node_ready(api, "node1", "True")
        conflist = json.loads((root / "etc/cni/net.d/10-calico.conflist").read_text())
        assert conflist["plugins"][0]["nodename"] == "node1"
        assert {c["type"]: c["status"] for c in node["status"]["conditions"]} == {"Ready": "True"}
    finally:
        _stopped(process)
