"""A fleet of simulated Linux hosts on this machine: rehearse a deploy without real machines.

Each host has its own network namespace and address (in 10.213.0.0/16, no route beyond this
machine), hostname, PID namespace, private copy-on-write /etc, /var, /opt, /usr and /srv, clean
/root and /home, a real sshd with its own host key, and systemd as PID 1 where the machine allows
(``systemctl`` works) or tini. Users: ``root``, ``ops`` (passwordless sudo) and ``deployer``
(sudo with its password). Needs root.
"""

from kubexms.sandbox._errors import SandboxError
from kubexms.sandbox._fleet import DEFAULT_DIRECTORY, fleet_down, fleet_status, fleet_up, load_fleet
from kubexms.sandbox._model import Fleet, FleetHost, FleetStatus, HostStatus
from kubexms.sandbox._preflight import MAX_HOSTS, InitKind

__all__ = [
    "DEFAULT_DIRECTORY",
    "MAX_HOSTS",
    "Fleet",
    "FleetHost",
    "FleetStatus",
    "HostStatus",
    "InitKind",
    "SandboxError",
    "fleet_down",
    "fleet_status",
    "fleet_up",
    "load_fleet",
]
