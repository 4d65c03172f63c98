"""The Runner: idempotent host operations over one connector, with cached facts.

A Step reaches its host only through ``host.runner``: ``run``/``check``/``must_run`` for
plain commands, ``facts()`` for what the host is, and one sub-object per concern for
changes: ``files``, ``templates``, ``archives``, ``packages``, ``services``, ``system``,
``network``. Every change returns a :class:`Change`.
"""

from kubexms.runner._archives import ArchiveFormat, Archives
from kubexms.runner._change import Change, SysctlChange
from kubexms.runner._errors import (
    KernelModuleMissingError,
    NoSpaceError,
    PackageCommandError,
    PackageManagerLockedError,
    PortWaitTimeoutError,
    RunnerError,
    ServiceNotActiveError,
    SysctlError,
    TemplateError,
    UnsupportedHostError,
)
from kubexms.runner._facts import FactsParseError, HostFacts, parse_facts
from kubexms.runner._file_sync import FileSpec
from kubexms.runner._files import Files, FileStat
from kubexms.runner._network import Network
from kubexms.runner._packages import Packages, RepositoryReach
from kubexms.runner._runner import RUN_DIRECTORIES, Runner, run_directory
from kubexms.runner._services import Services
from kubexms.runner._system import (
    MODULES_FILE,
    SYSCTL_FILE,
    System,
    absent_modules,
    absent_modules_script,
    sysctl_path,
)
from kubexms.runner._templates import Templates, render_template

__all__ = [
    "MODULES_FILE",
    "RUN_DIRECTORIES",
    "SYSCTL_FILE",
    "ArchiveFormat",
    "Archives",
    "Change",
    "FactsParseError",
    "FileSpec",
    "FileStat",
    "Files",
    "HostFacts",
    "KernelModuleMissingError",
    "Network",
    "NoSpaceError",
    "PackageCommandError",
    "PackageManagerLockedError",
    "Packages",
    "PortWaitTimeoutError",
    "RepositoryReach",
    "Runner",
    "RunnerError",
    "ServiceNotActiveError",
    "Services",
    "SysctlChange",
    "SysctlError",
    "System",
    "TemplateError",
    "Templates",
    "UnsupportedHostError",
    "absent_modules",
    "absent_modules_script",
    "parse_facts",
    "render_template",
    "run_directory",
    "sysctl_path",
]
