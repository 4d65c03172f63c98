"""The plugins' upstream manifests as test fixtures (fixtures/), and the BOM's versions.

The fixtures are the files at the plugins' release tags, byte for byte:

- ``calico-v3.29.7.yaml``: ``manifests/calico.yaml`` of projectcalico/calico at tag v3.29.7
  (commit 82fd18c202ac5400cd7760597a510de9d028b035);
- ``calico-v3.30.5.yaml``: the same file at tag v3.30.5
  (commit ad8eb20c55e7f79ad4a98ebaec6ba1fc055b7c7c);
- ``kube-flannel-v0.26.7.yml``: ``Documentation/kube-flannel.yml`` of flannel-io/flannel at tag
  v0.26.7 (commit db296e3efd5368450c67bbd6ae21f42d357e8c83), the file its release publishes
  as ``kube-flannel.yml``.
"""

from __future__ import annotations

from pathlib import Path

from kubexms.artifacts import default_bom, minor_of

FIXTURES = Path(__file__).parent / "fixtures"


def bom_minors() -> list[str]:
    return default_bom().minors


def kubernetes_version(minor: str) -> str:
    """The newest Kubernetes patch of ``minor`` the BOM pins kubeadm for."""
    pinned = [v for v in default_bom().components["kubeadm"].sha256 if minor_of(v) == minor]
    assert pinned, f"the BOM pins no kubeadm of {minor}"
    return max(pinned, key=lambda v: tuple(int(p) for p in v.lstrip("v").split(".")))


def manifest_version(minor: str, component: str) -> str:
    return default_bom().releases[minor][component]


def upstream_manifest(minor: str, component: str) -> str:
    """The fixture of ``component`` (calico-manifests, flannel-manifest) at the BOM's version."""
    version = manifest_version(minor, component)
    name = {
        "calico-manifests": f"calico-{version}.yaml",
        "flannel-manifest": f"kube-flannel-{version}.yml",
    }[component]
    path = FIXTURES / name
    assert path.exists(), f"the BOM's {component} {version} has no fixture {path.name}: add it"
    return path.read_text("utf-8")
