"""CloudFormation stack states as a small state machine. Pure; no I/O.

Every status is in progress, succeeded or failed; nothing is left unknown (the
earlier public tool waited only for *_COMPLETE/*_FAILED and hung on
ROLLBACK_*). ``failure_of(events)`` names the first resource that failed and
why, from the stack's events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

IN_PROGRESS = "in_progress"
SUCCEEDED = "succeeded"
FAILED = "failed"

CREATE_SUCCESS = {"CREATE_COMPLETE"}
DELETE_SUCCESS = {"DELETE_COMPLETE"}
FAILED_STATES = {
    "CREATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED",
    "DELETE_IN_PROGRESS", "DELETE_COMPLETE", "DELETE_FAILED",
    "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_FAILED", "IMPORT_ROLLBACK_IN_PROGRESS",
    "IMPORT_ROLLBACK_FAILED", "IMPORT_ROLLBACK_COMPLETE",
}


def classify_create(status: str) -> str:
    """Where a stack being created stands. Any rollback or delete state means the create failed."""
    if status in CREATE_SUCCESS:
        return SUCCEEDED
    if status in FAILED_STATES or status.endswith("_FAILED") or "ROLLBACK" in status:
        return FAILED
    return IN_PROGRESS


def classify_delete(status: str) -> str:
    if status in DELETE_SUCCESS:
        return SUCCEEDED
    if status == "DELETE_FAILED":
        return FAILED
    return IN_PROGRESS


@dataclass(frozen=True)
class Failure:
    resource: str | None
    resource_type: str | None
    reason: str

    def __str__(self) -> str:
        if self.resource:
            kind = f" ({self.resource_type})" if self.resource_type else ""
            return f"{self.resource}{kind}: {self.reason}"
        return self.reason


def failure_of(events: Iterable[Mapping[str, Any]], stack_name: str, status: str, status_reason: str | None) -> Failure:
    """The earliest failed resource in the events (newest first, as AWS returns them)."""
    failed = [e for e in events if str(e.get("ResourceStatus", "")).endswith("_FAILED")
              and e.get("LogicalResourceId") != stack_name]
    if failed:
        first = failed[-1]
        return Failure(first.get("LogicalResourceId"), first.get("ResourceType"),
                       first.get("ResourceStatusReason") or first["ResourceStatus"])
    return Failure(None, None, status_reason or f"stack ended in {status}")
