"""containerd's files as kubexms renders them: schema per version, registries, secrets."""

from __future__ import annotations

import tomllib

import pytest

from kubexms.artifacts import ImageRef
from kubexms.config import Registry
from kubexms.containerd import registry_hosts, render_config, schema_version

PAUSE = ImageRef.parse("registry.k8s.io/pause:3.10")


@pytest.mark.parametrize(("version", "schema"), [("v1.6.20", 2), ("v1.7.24", 2), ("v2.1.5", 3)])
def test_schema_follows_the_major_version(version: str, schema: int) -> None:
    assert schema_version(version) == schema
    config = tomllib.loads(render_config(version, PAUSE, {}))
    assert config["version"] == schema


def test_v2_config_has_systemd_cgroups_sandbox_image_and_config_path() -> None:
    config = tomllib.loads(render_config("v1.6.20", PAUSE, {"reg:5000": ("u", 'p"w\\')}))
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.10"
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is True
    assert runc["options"]["BinaryName"] == "/usr/local/sbin/runc"
    assert cri["registry"]["config_path"] == "/etc/containerd/certs.d"
    assert cri["registry"]["configs"]["reg:5000"]["auth"] == {"username": "u", "password": 'p"w\\'}


def test_v3_config_splits_images_and_runtime() -> None:
    config = tomllib.loads(render_config("v2.1.5", PAUSE.under("reg:5000/k8s"), {}))
    images = config["plugins"]["io.containerd.cri.v1.images"]
    assert images["pinned_images"]["sandbox"] == "reg:5000/k8s/pause:3.10"
    assert images["registry"]["config_path"] == "/etc/containerd/certs.d"
    runtime = config["plugins"]["io.containerd.cri.v1.runtime"]
    assert runtime["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True


def test_registries_get_one_hosts_toml_each() -> None:
    registry = Registry.model_validate(
        {
            "mirrors": ["https://mirror.example", "http://plain.example:5000"],
            "privateRegistry": "reg.example:5000/library",
            "insecureRegistries": ["plain.example:5000", "old.example"],
        }
    )
    found = {item.host: tomllib.loads(item.hosts_toml) for item in registry_hosts(registry, True)}
    assert set(found) == {"docker.io", "reg.example:5000", "plain.example:5000", "old.example"}
    hub = found["docker.io"]
    assert hub["server"] == "https://registry-1.docker.io"
    assert list(hub["host"]) == ["https://mirror.example", "http://plain.example:5000"]
    private = found["reg.example:5000"]["host"]["https://reg.example:5000"]
    assert private["ca"] == "/etc/containerd/certs.d/reg.example:5000/ca.crt"
    assert "skip_verify" not in private
    old = found["old.example"]["host"]
    assert old["https://old.example"]["skip_verify"] is True
    assert "http://old.example" in old


def test_no_registry_settings_no_hosts_files() -> None:
    assert registry_hosts(Registry(), False) == []
