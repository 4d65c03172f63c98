"""The Runner's public surface, pinned: changing it is a decision, not an accident."""

from __future__ import annotations

import kubexms.runner
from kubexms.runner import Runner
from tests.unit.runner.fakes import ScriptedConnector


def test_exported_names() -> None:
    assert sorted(kubexms.runner.__all__) == [
        "ArchiveFormat",
        "Archives",
        "Change",
        "FactsParseError",
        "FileSpec",
        "FileStat",
        "Files",
        "HostFacts",
        "KernelModuleMissingError",
        "MODULES_FILE",
        "Network",
        "NoSpaceError",
        "PackageCommandError",
        "PackageManagerLockedError",
        "Packages",
        "PortWaitTimeoutError",
        "RUN_DIRECTORIES",
        "RepositoryReach",
        "Runner",
        "RunnerError",
        "SYSCTL_FILE",
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


def test_operations_are_grouped_by_concern() -> None:
    runner = Runner(ScriptedConnector())
    groups = {
        "files": kubexms.runner.Files,
        "templates": kubexms.runner.Templates,
        "archives": kubexms.runner.Archives,
        "packages": kubexms.runner.Packages,
        "services": kubexms.runner.Services,
        "system": kubexms.runner.System,
        "network": kubexms.runner.Network,
    }
    for attribute, kind in groups.items():
        assert isinstance(getattr(runner, attribute), kind)
    assert runner.sudo is True
    assert Runner(ScriptedConnector(), sudo=False).sudo is False
