"""The ``loadbalancer`` phase of ``create cluster``: mostly declarations on the building blocks.

- ``internal``: on every node that is not a master, ``kubexms-lb.service`` (haproxy or nginx)
  listens on 127.0.0.1:<port> and spreads connections over every master's API server; the
  endpoint's domain resolves to 127.0.0.1 there and to the master itself on masters.
- ``external``: the same proxy on the ``loadbalancer`` hosts (all addresses), and keepalived
  holding ``address`` on one of them, following a live proxy.
- ``kube-vip``: a static pod manifest on every master (it runs once the kubelet does).
- ``none``: nothing.

A changed master list rewrites the proxy's backends and reloads it (connections stay open);
every new config is checked by the daemon itself before it replaces the running one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

from kubexms.artifacts import cluster_images
from kubexms.config import Cluster
from kubexms.engine import HostNeeds, Named, PlanContext, Roles, Task, branches
from kubexms.loadbalancer._layout import (
    HOSTS_MARKER,
    KEEPALIVED_CONFIG,
    KEEPALIVED_UNIT,
    PACKAGES,
    PROXY_UNIT,
    backends,
    local_proxy_hosts,
    proxy_config_path,
    virtual_router_id,
    vrrp_peers,
)
from kubexms.loadbalancer._render import (
    keepalived_validate_command,
    proxy_validate_command,
    render_keepalived_config,
    render_keepalived_unit,
    render_proxy_config,
    render_proxy_unit,
)
from kubexms.loadbalancer._static_pod import KubeVipManifest
from kubexms.loadbalancer._steps import ServiceOnInterface
from kubexms.steps import (
    THIS_HOST,
    ComponentModule,
    Health,
    HostsEntries,
    ServiceFile,
    SystemdService,
)

PROXY_HEALTH_TIMEOUT = 30.0


def proxy_service(cluster: Cluster, bind: str) -> SystemdService:
    """``kubexms-lb.service`` listening on ``bind`` over every master's API server."""
    endpoint = cluster.spec.control_plane_endpoint
    kind = endpoint.load_balancer.kind
    config = ServiceFile(
        proxy_config_path(kind),
        render_proxy_config(kind, bind, backends(cluster)),
        reload=True,
        validate=proxy_validate_command(kind),
    )
    return SystemdService(
        unit=PROXY_UNIT,
        unit_file=render_proxy_unit(kind),
        files=(config,),
        health=Health(port=endpoint.port, timeout=PROXY_HEALTH_TIMEOUT),
        name="proxy",
    )


def keepalived_service(cluster: Cluster, host: str, interface: str) -> SystemdService:
    """keepalived on ``host`` (a ``loadbalancer`` host) with the VIP on ``interface``."""
    endpoint = cluster.spec.control_plane_endpoint
    peers = vrrp_peers(cluster)
    (me,) = [peer for peer in peers if peer.name == host]
    config = render_keepalived_config(
        host=host,
        kind=endpoint.load_balancer.kind,
        interface=interface,
        router_id=virtual_router_id(cluster),
        priority=me.priority,
        address=me.address,
        peers=[peer.address for peer in peers if peer.name != host],
        vip=endpoint.address,
    )
    return SystemdService(
        unit=KEEPALIVED_UNIT,
        unit_file=render_keepalived_unit(),
        files=(
            ServiceFile(
                KEEPALIVED_CONFIG, config, reload=True, validate=keepalived_validate_command()
            ),
        ),
        name="keepalived",
    )


def packages_needed(cluster: Cluster) -> dict[str, tuple[str, ...]]:
    """Which OS packages :func:`balancer_hosts` need, per package
    manager (``internal``: the non-master nodes; ``external``: the loadbalancer hosts)."""
    balancer = cluster.spec.control_plane_endpoint.load_balancer
    if balancer.type not in ("internal", "external"):
        return {}
    wanted = {manager: list(names) for manager, names in PACKAGES[balancer.kind].items()}
    if balancer.type == "external":
        for manager, names in PACKAGES["keepalived"].items():
            wanted[manager] += names
    return {manager: tuple(names) for manager, names in wanted.items()}


def balancer_hosts(cluster: Cluster) -> list[str]:
    """The hosts the phase installs a proxy (and keepalived) on."""
    balancer = cluster.spec.control_plane_endpoint.load_balancer
    if balancer.type == "internal":
        return local_proxy_hosts(cluster)
    if balancer.type == "external":
        return [host.name for host in cluster.hosts_with_role("loadbalancer")]
    return []


def balancer_ports(cluster: Cluster) -> tuple[int, ...]:
    """TCP ports the phase's proxies listen on (on :func:`balancer_hosts`)."""
    balancer = cluster.spec.control_plane_endpoint.load_balancer
    if balancer.type in ("internal", "external"):
        return (cluster.spec.control_plane_endpoint.port,)
    return ()


def loadbalancer_host_needs(cluster: Cluster) -> list[HostNeeds]:
    """The endpoint's port where the proxy will listen, held by kubexms-lb.service on a
    rerun, and the OS packages of the proxy (and keepalived): the ``loadbalancer`` hosts
    (``external``), the workers that are not masters (``internal``, on 127.0.0.1). OS
    preparation installs the packages from the same source as the rest."""
    balancer = cluster.spec.control_plane_endpoint.load_balancer
    reason = f"controlPlaneEndpoint.loadBalancer.type is {balancer.type}"
    roles: tuple[str, ...]
    without: tuple[str, ...]
    if balancer.type == "external":
        roles, without = ("loadbalancer",), ()
    elif balancer.type == "internal":
        roles, without = ("worker",), ("master",)
    else:
        return []
    return [
        HostNeeds(
            "loadbalancer",
            roles=roles,
            without_roles=without,
            ports=balancer_ports(cluster),
            packages=packages_needed(cluster),
            reason=reason,
            service=PROXY_UNIT,
        )
    ]


class LoadBalancerModule(ComponentModule):
    """The ``loadbalancer`` phase (see the module docstring). Nothing from the artifact store
    (the daemons are OS packages, kube-vip an image), nothing of the cluster PKI (the proxies
    pass TLS through)."""

    name = "loadbalancer"

    @classmethod
    def roles_for(cls, cluster: Cluster) -> tuple[str, ...]:
        """The nodes for ``internal``, the ``loadbalancer`` hosts for ``external``, else the
        masters (kube-vip's static pod)."""
        balancer = cluster.spec.control_plane_endpoint.load_balancer
        if balancer.type == "internal":
            return ("master", "worker")
        if balancer.type == "external":
            return ("loadbalancer",)
        return ("master",)

    def host_needs(self, ctx: PlanContext) -> Sequence[HostNeeds]:
        return loadbalancer_host_needs(ctx.config)

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
        # Parallel branches, except where _after says a task waits for others.
        found = self._unordered_tasks(ctx)
        return branches(found, self._after(found))

    def _unordered_tasks(self, ctx: PlanContext) -> Sequence[Task]:
        cluster = ctx.config
        endpoint = cluster.spec.control_plane_endpoint
        balancer = endpoint.load_balancer
        if balancer.type == "internal":
            return self._internal(cluster)
        if balancer.type == "external":
            return self._external(cluster)
        if balancer.type == "kube-vip":
            (image,) = cluster_images(cluster, phases=("loadbalancer",))
            registry = cluster.spec.registry.private_registry
            manifest = KubeVipManifest(
                endpoint.address, balancer.interface, str(image.ref.under(registry))
            )
            return [Task("kube-vip", [manifest], Roles("master"))]
        return []

    def _internal(self, cluster: Cluster) -> list[Task]:
        domain = cluster.spec.control_plane_endpoint.domain
        port = cluster.spec.control_plane_endpoint.port
        nodes = local_proxy_hosts(cluster)
        # The endpoint's name at the local proxy on those nodes, at the master itself on masters.
        on_masters = HostsEntries(((THIS_HOST, domain),), HOSTS_MARKER, name="endpoint-name")
        local = HostsEntries((("127.0.0.1", domain),), HOSTS_MARKER, name="endpoint-name")
        tasks = [Task("endpoint-name-masters", [on_masters], Roles("master"))]
        if nodes:
            tasks += [
                Task("proxy", [proxy_service(cluster, f"127.0.0.1:{port}")], Named(nodes)),
                Task("endpoint-name", [local], Named(nodes)),
            ]
        return tasks

    def _external(self, cluster: Cluster) -> list[Task]:
        port = cluster.spec.control_plane_endpoint.port
        interface = cluster.spec.control_plane_endpoint.load_balancer.interface
        tasks = [Task("proxy", [proxy_service(cluster, f"*:{port}")], Roles("loadbalancer"))]
        for peer in vrrp_peers(cluster):
            service = ServiceOnInterface(
                partial(keepalived_service, cluster, peer.name), interface, name="keepalived"
            )
            tasks.append(Task(f"keepalived-{peer.name}", [service], Named([peer.name])))
        return tasks

    def _after(self, tasks: Sequence[Task]) -> Mapping[str, Sequence[str]]:
        names = [task.name for task in tasks]
        after: dict[str, Sequence[str]] = {}
        if "endpoint-name" in names:
            # Names point at the proxy only once it listens.
            after["endpoint-name"] = ["proxy"]
        for name in names:
            if name.startswith("keepalived-"):
                # keepalived gives the address only to a host whose proxy runs.
                after[name] = ["proxy"]
        return after
