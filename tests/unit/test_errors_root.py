"""One root for every error kubexms raises on purpose, each labelled by what happened."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import kubexms
from kubexms import KubexmsError
from kubexms._errors import error_label
from kubexms.artifacts import ArtifactError
from kubexms.config import ConfigError
from kubexms.connector import (
    AuthenticationError,
    CommandFailedError,
    CommandResult,
    CommandTimeoutError,
    ConnectorError,
    ConnectTimeoutError,
    HostConnectionError,
    HostKeyChangedError,
    HostKeyError,
    SudoError,
)
from kubexms.engine import (
    CheckFailedError,
    CheckpointError,
    HostLockError,
    PlanError,
    StepTimeoutError,
    is_retryable,
)
from kubexms.pki import PkiError
from kubexms.runner import FactsParseError, RunnerError
from kubexms.runtime import InitializationError, MissingDataError
from kubexms.sandbox import SandboxError


def test_the_root_is_exported_from_the_package() -> None:
    assert "KubexmsError" in kubexms.__all__


@pytest.mark.parametrize(
    "kind",
    [
        ConnectorError,
        RunnerError,
        InitializationError,
        MissingDataError,
        PlanError,
        CheckFailedError,
        StepTimeoutError,
        CheckpointError,
        HostLockError,
        ConfigError,
        ArtifactError,
        PkiError,
        SandboxError,
        FactsParseError,
    ],
)
def test_every_layer_derives_from_the_root(kind: type[BaseException]) -> None:
    assert issubclass(kind, KubexmsError)


def test_an_initialization_error_is_caught_as_the_root() -> None:
    with pytest.raises(KubexmsError) as caught:
        raise InitializationError([HostConnectionError("node1", "gone")])
    assert not caught.value.retryable
    assert "node1: gone" in str(caught.value)


@pytest.mark.parametrize(
    ("error", "label", "retryable"),
    [
        (HostConnectionError("n", "x"), "unreachable", True),
        (ConnectTimeoutError("n", "x"), "timed out", True),
        (CommandTimeoutError("n", "sleep 9", 1), "timed out", True),
        (StepTimeoutError("n", "m/t/s", 1), "timed out", True),
        (SudoError("n", "x"), "sudo refused", False),
        (AuthenticationError("n", "x"), "authentication failed", False),
        (HostKeyChangedError("n", "x"), "host key changed", False),
        (HostKeyError("n", "x"), "host key not trusted", False),
        (CommandFailedError("n", CommandResult("false", 1, "", "", 0.0)), "command failed", False),
        (PlanError("x"), "failed", False),
        (CheckFailedError("n", "os", "init is tini"), "check failed", False),
    ],
)
def test_errors_are_labelled_by_what_happened(
    error: KubexmsError, label: str, retryable: bool
) -> None:
    assert error_label(error) == label
    assert error.retryable is retryable
    assert is_retryable(error) is retryable


def test_errors_outside_the_root_are_never_retried() -> None:
    assert not is_retryable(TimeoutError())
    assert error_label(TimeoutError()) == "timed out"
    assert error_label(ValueError("x")) == "failed"


def test_an_instance_may_decide_its_own_retryability() -> None:
    error = RunnerError("n", "the package manager is locked")
    error.retryable = True
    assert is_retryable(error)


def test_every_public_error_class_of_kubexms_derives_from_the_root() -> None:
    # A new error type outside the root would escape `except KubexmsError` and its retryable.
    for module in pkgutil.walk_packages(kubexms.__path__, "kubexms."):
        if not module.name.endswith("__main__"):  # that one runs the CLI
            importlib.import_module(module.name)
    outside = sorted(
        f"{kind.__module__}.{kind.__qualname__}"
        for kind in _subclasses(Exception)
        if kind.__module__.startswith("kubexms.")
        and not kind.__name__.startswith("_")
        and not issubclass(kind, KubexmsError)
    )
    assert outside == []


def _subclasses(kind: type[BaseException]) -> set[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for sub in kind.__subclasses__():
        found.add(sub)
        found |= _subclasses(sub)
    return found
