"""The kubeadm steps against a scripted host: what they ask, what they decide, what they say.
(The fleet tests run them against the kubeadm and kubelet doubles on real hosts.)"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from kubexms.config import ResolvedHost, parse_config
from kubexms.connector import Connector
from kubexms.kubernetes import (
    ForeignClusterError,
    KubeadmError,
    KubeadmInit,
    KubeadmJoin,
    KubeadmMembership,
    bootstrap_token_path,
)
from kubexms.kubernetes._bootstrap import BootstrapToken
from kubexms.kubernetes._kubeadm_steps import token_configuration
from kubexms.pki import PkiOptions, generate_pki
from kubexms.runtime import Context, new_runtime
from tests.unit.config.sample import to_yaml
from tests.unit.kubernetes.sample import cluster_data, make_cluster
from tests.unit.runner.fakes import Call, Handler, ScriptedConnector

ENDPOINT = "https://api.demo.internal:6443"


async def scripted_context(
    tmp_path: Path, handler: Handler, host: int = 0, *, etcd_type: str = "kubexm"
) -> tuple[Context, Path]:
    data = cluster_data(etcd={"type": etcd_type})
    data["spec"]["global"]["workDir"] = str(tmp_path / "work")
    cluster = parse_config(to_yaml(data))
    pki = tmp_path / "pki"
    generate_pki(cluster, pki, options=PkiOptions(key_type="ecdsa"))
    connector = ScriptedConnector(handler)

    def build(spec: ResolvedHost) -> Connector:
        return connector

    runtime = await new_runtime(cluster, connector_factory=build)
    return runtime.new_context(runtime.hosts[host]), pki


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_a_host_without_kubeadm_files_passes(tmp_path: Path) -> None:
    ctx, pki = await scripted_context(tmp_path, lambda call: "")
    await KubeadmMembership(ENDPOINT, str(pki)).verify(ctx)


async def test_before_the_pki_exists_only_a_host_without_kubeadm_files_passes(
    tmp_path: Path,
) -> None:
    """A dry run of a new cluster checks membership before the pki phase made the CA."""
    ctx, pki = await scripted_context(tmp_path, lambda call: "")
    (pki / "ca.crt").unlink()
    await KubeadmMembership(ENDPOINT, str(pki)).verify(ctx)

    def answer(call: Call) -> str:
        return "@kxms:file /etc/kubernetes/kubelet.conf\n@kxms:certificate-authority-data eA==\n"

    ctx, _ = await scripted_context(tmp_path, answer)
    (pki / "ca.crt").unlink()
    with pytest.raises(ForeignClusterError, match="this cluster: CA not made yet"):
        await KubeadmMembership(ENDPOINT, str(pki)).verify(ctx)


async def test_our_own_files_pass_and_only_public_lines_are_read(tmp_path: Path) -> None:
    seen: list[Call] = []

    def answer(call: Call) -> str:
        seen.append(call)
        ours = (tmp_path / "pki/ca.crt").read_bytes()
        return (
            "@kxms:file /etc/kubernetes/kubelet.conf\n"
            f"@kxms:certificate-authority-data {_b64(ours)}\n"
            f"@kxms:server {ENDPOINT}\n"
            f"@kxms:ca-file {_b64(ours)}\n"
        )

    ctx, pki = await scripted_context(tmp_path, answer)
    await KubeadmMembership(ENDPOINT, str(pki)).verify(ctx)
    script = seen[0].command + seen[0].stdin.decode()
    assert "client-key" not in script  # the probe prints only CA data and server lines


async def test_another_clusters_host_is_refused_naming_what_differs(tmp_path: Path) -> None:
    other = tmp_path / "other"
    generate_pki(make_cluster(), other, options=PkiOptions(key_type="ecdsa"))
    foreign = _b64((other / "ca.crt").read_bytes())

    def answer(call: Call) -> str:
        return (
            "@kxms:file /etc/kubernetes/kubelet.conf\n"
            f"@kxms:certificate-authority-data {foreign}\n"
            "@kxms:server https://10.9.9.9:6443\n"
            "@kxms:file /etc/kubernetes/admin.conf\n"
        )

    ctx, pki = await scripted_context(tmp_path, answer)
    with pytest.raises(ForeignClusterError) as error:
        await KubeadmMembership(ENDPOINT, str(pki)).verify(ctx)
    message = str(error.value)
    assert message.startswith("master1: kubeadm set this host up for another cluster")
    assert "/etc/kubernetes/kubelet.conf trusts the CA sha256:" in message
    assert "names the API server https://10.9.9.9:6443" in message
    assert "Refused; nothing was changed" in message
    assert "/etc/kubernetes/admin.conf has no certificate-authority-data to check" in message


async def test_a_masters_kubelet_may_name_its_own_api_server_a_workers_may_not(
    tmp_path: Path,
) -> None:
    # kubeadm 1.33+ (ControlPlaneKubeletLocalMode) points a control-plane kubelet at its own
    # API server; a worker's kubelet only ever names the endpoint.
    def answer(base: Path, server: str) -> Handler:
        def handler(call: Call) -> str:
            ours = (base / "pki/ca.crt").read_bytes()
            return (
                "@kxms:file /etc/kubernetes/kubelet.conf\n"
                f"@kxms:certificate-authority-data {_b64(ours)}\n"
                f"@kxms:server {server}\n"
            )

        return handler

    for name, server, host, accepted in (
        ("own", "https://10.213.0.12:6443", 1, True),  # master2's own
        ("other", "https://10.213.0.11:6443", 1, False),  # master1's, on master2
        ("worker", "https://10.213.0.14:6443", 3, False),  # worker1's own
    ):
        base = tmp_path / name
        ctx, pki = await scripted_context(base, answer(base, server), host=host)
        if accepted:
            await KubeadmMembership(ENDPOINT, str(pki)).verify(ctx)
            continue
        with pytest.raises(ForeignClusterError, match=f"names the API server {server}"):
            await KubeadmMembership(ENDPOINT, str(pki)).verify(ctx)


async def test_the_probe_reads_real_kubeconfigs_by_shell(tmp_path: Path) -> None:
    """The probe script itself, run by sh over kubeconfigs made by the PKI (ours, another's)."""
    etc = tmp_path / "etc-kubernetes"
    etc.mkdir()
    other = tmp_path / "other"
    generate_pki(make_cluster(), other, options=PkiOptions(key_type="ecdsa"))

    def answer(call: Call) -> str:
        script = (call.stdin.decode() or call.command).replace("/etc/kubernetes", str(etc))
        done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
        assert not done.stderr, done.stderr
        return done.stdout

    ctx, pki = await scripted_context(tmp_path, answer)
    step = KubeadmMembership(ENDPOINT, str(pki))
    shutil.copy(pki / "kubeconfig" / "kubelet-master1.conf", etc / "kubelet.conf")
    shutil.copy(pki / "ca.crt", etc / "ca.crt")
    await step.verify(ctx)
    shutil.copy(other / "kubeconfig" / "admin.conf", etc / "admin.conf")
    with pytest.raises(ForeignClusterError, match=f"{etc}/admin.conf trusts the CA sha256:"):
        await step.verify(ctx)


async def test_init_is_done_once_its_manifest_and_kubelet_config_exist(tmp_path: Path) -> None:
    def answer(call: Call) -> str:
        return "/etc/kubernetes/manifests/kube-apiserver.yaml\n/var/lib/kubelet/config.yaml\n"

    ctx, _ = await scripted_context(tmp_path, answer)
    step = KubeadmInit("/etc/kubernetes/kubeadm/init.yaml")
    assert not (await step.precheck(ctx)).changed
    assert not (await step.run(ctx)).changed


async def test_a_failed_join_shows_kubeadms_output_with_the_token_masked(
    tmp_path: Path,
) -> None:
    calls: list[Call] = []

    def answer(call: Call) -> tuple[int, str] | str:
        calls.append(call)
        if "kubeadm join" in call.command:
            # What the host's sed leaves of kubeadm's output, then the exit line.
            return "error: couldn't validate the identity of the API Server\n@kxms:exit 1\n"
        return ""

    ctx, pki = await scripted_context(tmp_path, answer, host=3)
    step = KubeadmJoin("/etc/kubernetes/kubeadm/join.yaml", pki_dir=str(pki))
    assert (await step.precheck(ctx)).changed
    with pytest.raises(KubeadmError) as error:
        await step.run(ctx)
    assert "worker1: kubeadm join failed (exit 1)" in str(error.value)
    assert "couldn't validate the identity" in str(error.value)
    assert bootstrap_token_path(ctx.cluster.config).is_relative_to(tmp_path)
    token = bootstrap_token_path(ctx.cluster.config).read_text().strip()
    assert (bootstrap_token_path(ctx.cluster.config).stat().st_mode & 0o777) == 0o600
    join = next(call for call in calls if "kubeadm join" in call.command)
    assert token not in join.command  # never argv
    assert "sed -E" in join.command  # output masked on the host
    written = b"".join(call.stdin for call in calls)
    assert token.encode() in written  # the config itself, on stdin to a 0600 file


def test_the_token_configuration_is_an_init_configuration_with_the_token_only() -> None:
    text = token_configuration(BootstrapToken("abcdef", "0123456789abcdef"))
    assert "kind: InitConfiguration" in text
    assert "token: abcdef.0123456789abcdef" in text
    assert "nodeRegistration" not in text
