"""The engine's public surface, pinned: changing it is a decision, not an accident."""

from __future__ import annotations

import kubexms.engine


def test_exported_names() -> None:
    assert sorted(kubexms.engine.__all__) == [
        "AllHosts",
        "CONTROL_HOST",
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
        "HostRef",
        "HostSelector",
        "HostSummary",
        "Inventory",
        "JsonLinesLog",
        "LOCK_PATH",
        "LiveView",
        "LockHolder",
        "Module",
        "Named",
        "Node",
        "OperationStep",
        "PAIR_RESULTS",
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
        "checkpoint_path",
        "config_fingerprint",
        "control_host",
        "is_retryable",
        "plan_document",
        "plan_tree",
        "read_checkpoint",
        "resume_point",
        "run_log_path",
        "run_plan",
        "secret_field",
        "summary_table",
    ]


def test_every_exported_name_exists() -> None:
    for name in kubexms.engine.__all__:
        assert getattr(kubexms.engine, name) is not None
