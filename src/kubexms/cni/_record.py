"""What the pod network of an existing cluster was created with, kept in the work dir.

No plugin kubexms installs can move a running cluster to another pod CIDR (Calico's pool, the
nodes' podCIDRs and flannel's subnet leases are fixed once pods have addresses), nor swap the
plugin underneath running pods. The ``cni`` phase records the network once it is applied; a
later run whose cluster file differs is refused with the field's path, before any host is
touched.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from kubexms._errors import KubexmsError
from kubexms.config import Cluster, ConfigError, Network
from kubexms.config._errors import Problem, issues_at

RECORD_FILE = "network.json"
_NETWORK = ("spec", "network")


class NetworkRecordError(KubexmsError):
    """The record of the cluster's network cannot be read."""

    label = "network record unreadable"


@dataclass(frozen=True)
class NetworkRecord:
    """The plugin and address ranges a cluster's pod network was created with."""

    plugin: str
    pods_cidr: str
    service_cidr: str

    @classmethod
    def of(cls, network: Network) -> NetworkRecord:
        return cls(network.plugin, network.kube_pods_cidr, network.kube_service_cidr)

    @staticmethod
    def path(work_dir: Path) -> Path:
        return work_dir / RECORD_FILE

    @classmethod
    def read(cls, work_dir: Path) -> NetworkRecord | None:
        """The record, None when the cluster's network was never applied from this work dir.

        An unreadable record is an error rather than None: treating it as absent would let a
        run change the CIDR of a cluster that has one."""
        path = cls.path(work_dir)
        try:
            data = json.loads(path.read_text("utf-8"))
            return cls(str(data["plugin"]), str(data["kubePodsCIDR"]), str(data["kubeServiceCIDR"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise NetworkRecordError(
                f"{path}: cannot read what the cluster's network was created with ({error}); "
                "restore the file, or write it with the cluster's plugin, kubePodsCIDR and "
                "kubeServiceCIDR"
            ) from None

    def write(self, work_dir: Path) -> None:
        """Write the record atomically (a crash leaves the old one or the new one)."""
        path = self.path(work_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        document = {
            "plugin": self.plugin,
            "kubePodsCIDR": self.pods_cidr,
            "kubeServiceCIDR": self.service_cidr,
        }
        temporary.write_text(json.dumps(document, indent=2) + "\n", "utf-8")
        os.replace(temporary, path)


def network_change_problems(recorded: NetworkRecord, network: Network) -> list[Problem]:
    """Where ``network`` (the cluster file now) differs from what the cluster was created with."""
    problems: list[Problem] = []
    if network.plugin != recorded.plugin:
        problems.append(
            (
                (*_NETWORK, "plugin"),
                f"the cluster runs {recorded.plugin}; kubexms does not replace the pod network "
                f"of an existing cluster (set plugin: {recorded.plugin})",
            )
        )
    if network.kube_pods_cidr != recorded.pods_cidr:
        problems.append(
            (
                (*_NETWORK, "kubePodsCIDR"),
                f"the cluster's pods already use {recorded.pods_cidr}; {recorded.plugin} cannot "
                f"move an existing cluster to {network.kube_pods_cidr} "
                f"(set kubePodsCIDR: {recorded.pods_cidr})",
            )
        )
    if network.kube_service_cidr != recorded.service_cidr:
        problems.append(
            (
                (*_NETWORK, "kubeServiceCIDR"),
                f"the cluster's services already use {recorded.service_cidr}; the address range "
                "of an existing cluster's services cannot change "
                f"(set kubeServiceCIDR: {recorded.service_cidr})",
            )
        )
    return problems


def check_network_unchanged(cluster: Cluster) -> None:
    """Raise `ConfigError` (with field paths) when the cluster file changes the network the
    cluster in ``cluster.work_dir`` was created with; nothing when it has none recorded."""
    recorded = NetworkRecord.read(cluster.work_dir)
    if recorded is None:
        return
    problems = network_change_problems(recorded, cluster.spec.network)
    if problems:
        raise ConfigError(issues_at(problems), source=f"cluster {cluster.name}")
