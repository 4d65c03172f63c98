"""The Engine: Steps planned by Tasks, Modules and Pipelines into one graph, and run.

Planning (``Pipeline.plan``) needs only the cluster file and builds an ExecutionGraph whose
node ids are ``pipeline/module/task/step``; duplicates, cycles and planner exceptions are a
PlanError. Execution (``Engine``, or ``run_plan`` with checkpoint and host locks) runs ready
nodes concurrently under global limits, with per-step timeouts that cancel, retries for
retryable errors, and one event stream for the live view, the JSON log and the summary.
"""

from kubexms.engine._checkpoint import (
    CheckpointKey,
    CheckpointWriter,
    ResumePoint,
    SavedCheckpoint,
    checkpoint_path,
    config_fingerprint,
    read_checkpoint,
    resume_point,
)
from kubexms.engine._control import control_host
from kubexms.engine._errors import (
    CheckFailedError,
    CheckpointError,
    PlanError,
    StepTimeoutError,
    is_retryable,
)
from kubexms.engine._event_log import JsonLinesLog, run_log_path
from kubexms.engine._events import PAIR_RESULTS, Event, EventBus, EventKind, EventSink
from kubexms.engine._executor import Engine
from kubexms.engine._graph import ExecutionGraph, Fragment, Node
from kubexms.engine._inventory import (
    CONTROL_HOST,
    AllHosts,
    ControlMachine,
    FirstOf,
    HostRef,
    HostSelector,
    Inventory,
    Named,
    Roles,
    known_role,
)
from kubexms.engine._lock import HostLockError, HostLocks, LockHolder
from kubexms.engine._lock_scripts import LOCK_PATH
from kubexms.engine._needs import PACKAGE_MANAGERS, HostNeeds, HostRequirements
from kubexms.engine._options import EngineOptions, PairFailure, RunResult
from kubexms.engine._plan_view import plan_document, plan_tree
from kubexms.engine._planning import Module, Pipeline, PlanContext, Task, branches
from kubexms.engine._retry import RetryPolicy
from kubexms.engine._session import RunRequest, SessionReport, run_plan
from kubexms.engine._step import Check, OperationStep, ReversibleStep, Step, secret_field
from kubexms.engine._summary import HostSummary, RunSummary, SummaryCollector, summary_table
from kubexms.engine._views import LiveView, PlainView
from kubexms.runtime import DataKey

__all__ = [
    "CONTROL_HOST",
    "LOCK_PATH",
    "PACKAGE_MANAGERS",
    "PAIR_RESULTS",
    "AllHosts",
    "Check",
    "CheckFailedError",
    "CheckpointError",
    "CheckpointKey",
    "CheckpointWriter",
    "ControlMachine",
    "DataKey",
    "Engine",
    "EngineOptions",
    "Event",
    "EventBus",
    "EventKind",
    "EventSink",
    "ExecutionGraph",
    "FirstOf",
    "Fragment",
    "HostLockError",
    "HostLocks",
    "HostNeeds",
    "HostRef",
    "HostRequirements",
    "HostSelector",
    "HostSummary",
    "Inventory",
    "JsonLinesLog",
    "LiveView",
    "LockHolder",
    "Module",
    "Named",
    "Node",
    "OperationStep",
    "PairFailure",
    "Pipeline",
    "PlainView",
    "PlanContext",
    "PlanError",
    "ResumePoint",
    "RetryPolicy",
    "ReversibleStep",
    "Roles",
    "RunRequest",
    "RunResult",
    "RunSummary",
    "SavedCheckpoint",
    "SessionReport",
    "Step",
    "StepTimeoutError",
    "SummaryCollector",
    "Task",
    "branches",
    "checkpoint_path",
    "config_fingerprint",
    "control_host",
    "is_retryable",
    "known_role",
    "plan_document",
    "plan_tree",
    "read_checkpoint",
    "resume_point",
    "run_log_path",
    "run_plan",
    "secret_field",
    "summary_table",
]
