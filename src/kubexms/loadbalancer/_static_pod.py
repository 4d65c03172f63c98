"""kube-vip as a static pod manifest on the masters (ARP mode, leader election)."""

from __future__ import annotations

from dataclasses import dataclass

from kubexms.engine import OperationStep
from kubexms.loadbalancer._layout import KUBE_VIP_MANIFEST
from kubexms.loadbalancer._render import KUBE_VIP_IMAGE, render_kube_vip_manifest
from kubexms.loadbalancer._steps import interface_holding
from kubexms.runner import Change
from kubexms.runtime import Context


@dataclass(frozen=True)
class KubeVipManifest(OperationStep):
    """``/etc/kubernetes/manifests/kube-vip.yaml`` holding ``address`` on the interface of the
    master's internal address (or ``interface``); the kubelet runs it once it runs."""

    address: str
    interface: str = ""
    image: str = KUBE_VIP_IMAGE

    name = "kube-vip-manifest"
    description = "kube-vip static pod holding {address} ({image})"

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        interface = self.interface or await interface_holding(ctx, ctx.host.internal_address)
        manifest = render_kube_vip_manifest(
            address=self.address, interface=interface, image=self.image
        )
        await ctx.runner.files.mkdir("/etc/kubernetes/manifests", check=check)
        return await ctx.runner.files.write(
            KUBE_VIP_MANIFEST, manifest.encode(), mode=0o600, check=check
        )
