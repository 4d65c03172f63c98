"""The user's kubeconfig: made from the cluster PKI, written 0600 atomically, merged into the
user's kubeconfig without touching other clusters, and read by the real kubectl against the
API-server double."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kubexms.cli import app
from kubexms.config import Cluster, parse_config
from kubexms.kubernetes import (
    KubeconfigError,
    MergeAction,
    default_user_kubeconfig,
    merge_into_file,
    user_kubeconfig,
    user_kubeconfig_path,
    write_user_kubeconfig,
)
from kubexms.pki import PkiOptions, generate_pki
from tests.doubles import real_kubectl
from tests.doubles.local_api import CLUSTER, local_api


def make_cluster(work: Path, name: str = "doubles", port: int = 6443) -> Cluster:
    document = copy.deepcopy(CLUSTER)
    document["metadata"]["name"] = name
    document["spec"]["global"] = {"workDir": str(work)}
    document["spec"]["controlPlaneEndpoint"] = {"address": "127.0.0.1", "port": port}
    return parse_config(yaml.safe_dump(document), source="cluster.yaml")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("kubeconfig") / "pki"
    generate_pki(make_cluster(directory.parent), directory, options=PkiOptions(key_type="ecdsa"))
    return directory


@pytest.fixture
def cluster(tmp_path: Path, pki: Path) -> Cluster:
    work = tmp_path / "work"
    work.mkdir()
    (work / "pki").symlink_to(pki)
    return make_cluster(work)


def kubectl(*args: str, kubeconfig: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(real_kubectl("1.32")), f"--kubeconfig={kubeconfig}", *args],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(kubeconfig.parent)},
    )  # fmt: skip


def test_names_everything_after_the_cluster_and_points_at_the_endpoint(cluster: Cluster) -> None:
    document = user_kubeconfig(cluster)
    assert document["current-context"] == "doubles"
    assert document["contexts"] == [
        {"name": "doubles", "context": {"cluster": "doubles", "user": "doubles-admin"}}
    ]
    assert document["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    admin = yaml.safe_load((cluster.work_dir / "pki/kubeconfig/admin.conf").read_text())
    assert (
        document["users"][0]["user"]["client-certificate-data"]
        == admin["users"][0]["user"]["client-certificate-data"]
    )


def test_written_once_with_mode_0600_and_a_rerun_changes_nothing(cluster: Cluster) -> None:
    path = user_kubeconfig_path(cluster)
    assert path == cluster.work_dir / "kubeconfig"
    assert write_user_kubeconfig(cluster, check=True).changed
    assert not path.exists()  # check mode writes nothing
    first = write_user_kubeconfig(cluster)
    assert first.changed
    assert path.stat().st_mode & 0o777 == 0o600
    assert not write_user_kubeconfig(cluster).changed
    path.chmod(0o644)
    assert write_user_kubeconfig(cluster).detail == "chmod 0600"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in cluster.work_dir.iterdir() if p.name.startswith(".")] == []


def test_a_missing_pki_is_a_clear_error(tmp_path: Path) -> None:
    cluster = make_cluster(tmp_path / "empty")
    with pytest.raises(KubeconfigError, match=r"has no admin kubeconfig .*certs generate"):
        user_kubeconfig(cluster)


def test_a_dry_run_before_the_pki_exists_says_it_would_create_it(tmp_path: Path) -> None:
    cluster = make_cluster(tmp_path / "work")
    change = write_user_kubeconfig(cluster, check=True)
    assert change.changed
    assert "the pki phase's admin kubeconfig" in change.detail
    assert not user_kubeconfig_path(cluster).exists()
    with pytest.raises(KubeconfigError, match="has no admin kubeconfig"):
        write_user_kubeconfig(cluster)


def foreign_config(tmp_path: Path, context: str = "other") -> dict[str, Any]:
    """A kubeconfig of another cluster (another CA)."""
    other_pki = tmp_path / "other-pki"
    generate_pki(make_cluster(tmp_path, name=context), other_pki,
                 options=PkiOptions(key_type="ecdsa"))  # fmt: skip
    document: dict[str, Any] = yaml.safe_load((other_pki / "kubeconfig/admin.conf").read_text())
    document["clusters"][0]["name"] = document["contexts"][0]["context"]["cluster"] = context
    document["contexts"][0]["name"] = document["current-context"] = context
    return document


def test_merge_adds_a_context_and_keeps_the_others(cluster: Cluster, tmp_path: Path) -> None:
    target = tmp_path / "home" / ".kube" / "config"
    target.parent.mkdir(parents=True)
    target.write_text(yaml.safe_dump(foreign_config(tmp_path)))
    result = merge_into_file(cluster, target)
    assert result.action is MergeAction.ADDED
    assert "current context stays 'other'" in result.message()
    merged = yaml.safe_load(target.read_text())
    assert [c["name"] for c in merged["contexts"]] == ["other", "doubles"]
    assert merged["current-context"] == "other"
    assert target.stat().st_mode & 0o777 == 0o600
    again = merge_into_file(cluster, target)
    assert again.action is MergeAction.UNCHANGED
    viewed = kubectl("config", "get-contexts", "-o", "name", kubeconfig=target)
    assert viewed.returncode == 0, viewed.stderr
    assert viewed.stdout.split() == ["doubles", "other"]


def test_merge_replaces_only_our_own_context(cluster: Cluster, tmp_path: Path) -> None:
    target = tmp_path / "config"
    stale = user_kubeconfig(cluster)
    stale["clusters"][0]["cluster"]["server"] = "https://old.example:6443"
    target.write_text(yaml.safe_dump(stale))
    assert merge_into_file(cluster, target).action is MergeAction.REPLACED
    merged = yaml.safe_load(target.read_text())
    assert merged["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"


def test_merge_refuses_a_same_named_context_of_another_cluster(
    cluster: Cluster, tmp_path: Path
) -> None:
    target = tmp_path / "config"
    before = yaml.safe_dump(foreign_config(tmp_path, context="doubles"))
    target.write_text(before)
    with pytest.raises(KubeconfigError, match=r"a cluster named 'doubles' for another cluster"):
        merge_into_file(cluster, target)
    assert target.read_text() == before


def test_merge_target_follows_kubeconfig_variable(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert default_user_kubeconfig({"KUBECONFIG": f"{first}{os.pathsep}{second}"}) == first
    assert default_user_kubeconfig({"HOME": str(tmp_path)}).name == "config"


def test_cli_prints_it_and_merges_it(cluster: Cluster, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    cluster_file = tmp_path / "cluster.yaml"
    document = copy.deepcopy(CLUSTER)
    document["spec"]["global"] = {"workDir": str(cluster.work_dir)}
    cluster_file.write_text(yaml.safe_dump(document))
    printed = CliRunner().invoke(app, ["kubeconfig", "-f", str(cluster_file)])
    assert printed.exit_code == 0, printed.output
    assert yaml.safe_load(printed.stdout)["current-context"] == "doubles"
    target = tmp_path / "merged-config"
    monkeypatch.setenv("KUBECONFIG", str(target))
    merged = CliRunner().invoke(app, ["kubeconfig", "-f", str(cluster_file), "--merge"])
    assert merged.exit_code == 0, merged.output
    assert f"added context 'doubles' to {target}" in merged.stdout
    broken = tmp_path / "broken.yaml"
    document["spec"]["global"] = {"workDir": str(tmp_path / "nowhere")}
    broken.write_text(yaml.safe_dump(document))
    failed = CliRunner().invoke(app, ["kubeconfig", "-f", str(broken)])
    assert failed.exit_code == 1
    assert "has no admin kubeconfig" in failed.output


def test_the_real_kubectl_reaches_the_api_through_it(tmp_path: Path) -> None:
    with local_api(tmp_path) as api:
        port = api.ports[0]
        cluster = make_cluster(tmp_path, port=port)  # the PKI local_api made is <work>/pki
        write_user_kubeconfig(cluster)
        path = user_kubeconfig_path(cluster)
        view = kubectl("config", "view", "--minify", "-o", "json", kubeconfig=path)
        assert view.returncode == 0, view.stderr
        shown = json.loads(view.stdout)
        assert shown["clusters"][0]["cluster"]["server"] == f"https://127.0.0.1:{port}"
        assert shown["users"][0]["user"]["client-key-data"] == "DATA+OMITTED"
        ready = kubectl("get", "--raw", "/readyz", kubeconfig=path)
        assert ready.returncode == 0, ready.stderr
        assert ready.stdout == "ok"
