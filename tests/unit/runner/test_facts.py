"""The facts script and its parser."""

from __future__ import annotations

import os
import platform
import subprocess

import pytest

from kubexms.runner import FactsParseError, parse_facts
from kubexms.runner._facts import FACTS_SCRIPT

SAMPLE = """\
os_id=ubuntu
os_version=22.04
os_name=Ubuntu 22.04.4 LTS
kernel=5.15.0-101-generic
machine=aarch64
hostname=node01
cpus=4
memory_kib=8046772
init=systemd
package_manager=apt-get
default_ipv4=192.0.2.10
"""


def test_parse_maps_arch_and_package_manager() -> None:
    facts = parse_facts(SAMPLE)
    assert facts.arch == "arm64"
    assert facts.machine == "aarch64"
    assert facts.package_manager == "apt"
    assert facts.memory_mib == 8046772 // 1024
    assert facts.cpus == 4
    assert facts.os_name == "Ubuntu 22.04.4 LTS"
    assert facts.init_system == "systemd"


def test_values_containing_equals_signs_are_kept_whole() -> None:
    facts = parse_facts(SAMPLE.replace("os_name=Ubuntu 22.04.4 LTS", "os_name=a=b"))
    assert facts.os_name == "a=b"


@pytest.mark.parametrize("drop", ["kernel", "machine", "cpus", "memory_kib"])
def test_missing_required_fact_is_an_error_naming_it(drop: str) -> None:
    text = "\n".join(line for line in SAMPLE.splitlines() if not line.startswith(drop + "="))
    with pytest.raises(FactsParseError, match=drop):
        parse_facts(text)


def test_non_numeric_counts_are_an_error() -> None:
    with pytest.raises(FactsParseError, match="non-numeric"):
        parse_facts(SAMPLE.replace("cpus=4", "cpus=four"))


def test_script_on_this_machine_reports_what_the_machine_is() -> None:
    out = subprocess.run(
        ["/bin/sh", "-c", FACTS_SCRIPT], capture_output=True, text=True, check=True
    )
    facts = parse_facts(out.stdout)
    assert facts.kernel == platform.release()
    assert facts.machine == platform.machine()
    assert facts.cpus == os.cpu_count()
    assert facts.hostname == platform.node()
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    assert facts.memory_mib == total_kib // 1024
