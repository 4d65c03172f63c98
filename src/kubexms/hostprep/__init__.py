"""OS preparation: what every Kubernetes node needs from its operating system.

Steps (each with a read-only precheck, so a second run changes nothing): the hostname, a
managed /etc/hosts block, swap off, kernel modules, kernel parameters, OS packages (from the
hosts' repositories or offline from files on this machine) and the timezone. ``OSPrepModule``
plans them as parallel branches on every host.
"""

from kubexms.hostprep._module import OSPrepModule, OSPrepOptions
from kubexms.hostprep._os_steps import (
    ApplySysctl,
    DisableSwap,
    HostsFileBlock,
    LoadKernelModules,
    SetHostname,
    SetTimezone,
)
from kubexms.hostprep._package_install import DownloadPackages, InstallPackages
from kubexms.hostprep._package_source import (
    PackageDirectoryError,
    PackageSource,
    Platform,
)
from kubexms.hostprep._requirements import (
    BASE_MODULES,
    IPVS_MODULES,
    KUBERNETES_SYSCTL,
    KernelModule,
    kernel_modules,
    required_packages,
)

__all__ = [
    "BASE_MODULES",
    "IPVS_MODULES",
    "KUBERNETES_SYSCTL",
    "ApplySysctl",
    "DisableSwap",
    "DownloadPackages",
    "HostsFileBlock",
    "InstallPackages",
    "KernelModule",
    "LoadKernelModules",
    "OSPrepModule",
    "OSPrepOptions",
    "PackageDirectoryError",
    "PackageSource",
    "Platform",
    "SetHostname",
    "SetTimezone",
    "kernel_modules",
    "required_packages",
]
