"""Each component's command-line flags for a Kubernetes minor, and the check of ``extraArgs``.

The lists are data (``flags/<component>.yaml``, with the groups several components share in
``flags/_common.yaml``): a base list valid for every supported minor, and per-minor
``added``/``removed`` changes applied in order. Each file says which upstream sources it was
taken from. An ``extraArgs`` key that is not a flag of the component at the cluster's version
is a config error naming its field path; so is a flag kubexms sets itself (it would be given
twice, and the second one would silently win).
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

from kubexms.config import ConfigError, ConfigIssue
from kubexms.kubernetes._layout import SUPPORTED_MINORS

COMPONENTS = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
)
FIELDS = {
    "kube-apiserver": "apiServer",
    "kube-controller-manager": "controllerManager",
    "kube-scheduler": "scheduler",
    "kubelet": "kubelet",
    "kube-proxy": "kubeProxy",
}
"""Where a component's ``extraArgs`` are in the cluster file (``spec.kubernetes.<field>``)."""


def _load(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath("flags", f"{name}.yaml").read_text()
    document = yaml.safe_load(text)
    if not isinstance(document, dict):
        raise ValueError(f"flags/{name}.yaml is not a mapping")
    return document


def _apply(base: set[str], changes: Mapping[str, Any], minor: str) -> set[str]:
    """``base`` with the changes of every minor up to and including ``minor``."""
    wanted = _minor_key(minor)
    for at in sorted(changes, key=_minor_key):
        if _minor_key(at) > wanted:
            break
        change = changes[at] or {}
        base |= set(change.get("added", ()))
        base -= set(change.get("removed", ()))
    return base


def _minor_key(minor: str) -> tuple[int, int]:
    major, number = minor.split(".")
    return int(major), int(number)


@functools.cache
def component_flags(component: str, minor: str) -> frozenset[str]:
    """The long flag names (without ``--``) ``component`` accepts at Kubernetes ``minor``."""
    if component not in COMPONENTS:
        raise KeyError(f"no flag list for {component!r}")
    if minor not in SUPPORTED_MINORS:
        raise KeyError(f"no flag lists for Kubernetes {minor} (supported: {SUPPORTED_MINORS})")
    common = _load("_common")
    document = _load(component)
    flags: set[str] = set(document["flags"])
    for group in document["groups"]:
        members = set(common["groups"][group])
        flags |= _apply(members, common.get("changes", {}).get(group, {}), minor)
    return frozenset(_apply(flags, document.get("changes") or {}, minor))


def flag_problems(
    component: str, minor: str, extra_args: Mapping[str, str], managed: Mapping[str, str]
) -> list[ConfigIssue]:
    """What is wrong with ``extra_args`` of ``component`` (empty: nothing). ``managed``: the
    flags kubexms sets itself, and why."""
    known = component_flags(component, minor)
    where = f"spec.kubernetes.{FIELDS[component]}.extraArgs"
    issues: list[ConfigIssue] = []
    for name in extra_args:
        path = f"{where}.{name}"
        if name.startswith("-"):
            issues.append(ConfigIssue(path, None, "write the flag without leading dashes"))
        elif name in managed:
            issues.append(ConfigIssue(path, None, f"--{name} is set by kubexms ({managed[name]})"))
        elif name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            issues.append(
                ConfigIssue(path, None, f"--{name} is not a {component} {minor} flag{hint}")
            )
    return issues


def check_flags(issues: list[ConfigIssue]) -> None:
    """Raise the config error listing ``issues``, if any."""
    if issues:
        raise ConfigError(issues)
