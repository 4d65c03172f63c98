"""Public surfaces of hostprep, preflight and pipelines, pinned."""

from __future__ import annotations

import kubexms.hostprep
import kubexms.pipelines
import kubexms.preflight


def test_hostprep_names() -> None:
    assert sorted(kubexms.hostprep.__all__) == [
        "ApplySysctl",
        "BASE_MODULES",
        "DisableSwap",
        "DownloadPackages",
        "HostsFileBlock",
        "IPVS_MODULES",
        "InstallPackages",
        "KUBERNETES_SYSCTL",
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


def test_preflight_names() -> None:
    assert sorted(kubexms.preflight.__all__) == [
        "CLOCK_OFFSET",
        "ClockSkew",
        "KernelModulesAvailable",
        "MAX_CLOCK_SKEW",
        "MIN_KERNEL",
        "PortsFree",
        "PreflightModule",
        "Reachable",
        "Resources",
        "SUPPORTED_OS",
        "SupportedOS",
        "parse_version",
    ]


def test_pipelines_names() -> None:
    assert kubexms.pipelines.__all__ == [
        "AVAILABLE",
        "PHASES",
        "CreateClusterPipeline",
        "InitOSPipeline",
        "PhaseSelection",
        "PhaseSelectionError",
    ]


def test_every_exported_name_exists() -> None:
    for module in (kubexms.hostprep, kubexms.preflight, kubexms.pipelines):
        for name in module.__all__:
            assert getattr(module, name) is not None
