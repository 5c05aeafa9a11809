"""Test deployment of one pack version: create the stack, wait, check outputs, always delete.

Used by ``registry test-deploy`` (the sandbox in CI, a real account by hand).
Whatever happens (a refused CreateStack, CREATE_FAILED, a rollback, a
timeout) the stack is deleted before the report is returned, and the report
says whether that cleanup succeeded.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from registry_tools.aws.adapter import BotoAws
from registry_tools.aws.interface import AwsError, Poll, Stacks, Target
from registry_tools.packs.loader import LoadedPack
from registry_tools.packs.model import Size


@dataclass(frozen=True)
class SmokeReport:
    pack: str
    version: str
    size: str
    instance_type: str
    region: str
    target: str
    stack: str
    ok: bool
    status: str
    reason: str | None = None
    failing_resource: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    missing_outputs: list[str] = field(default_factory=list)
    resources: list[dict[str, str]] = field(default_factory=list)
    create_seconds: float = 0.0
    delete_seconds: float = 0.0
    cleaned_up: bool = False
    cleanup_error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def stack_name(pack: str, version: str) -> str:
    return f"arw-test-{pack.replace('_', '-')}-{version.replace('.', '-').replace('+', '-')}-{secrets.token_hex(3)}"[:128]


def parameters_for(loaded: LoadedPack, size: Size) -> dict[str, str]:
    params = {k: str(v) for k, v in loaded.pack.deployment.parameters.items()}
    declared = loaded.template.get("Parameters", {})
    if "InstanceType" in declared:
        params["InstanceType"] = size.instance_type
    if "RootVolumeGiB" in declared:
        params["RootVolumeGiB"] = str(size.storage_gib)
    return params


def smoke_test(
    loaded: LoadedPack,
    size: Size,
    target: Target,
    *,
    timeout: float = 1800.0,
    poll_seconds: float = 5.0,
    on_status: Callable[[str], None] | None = None,
) -> SmokeReport:
    pack = loaded.pack
    name = stack_name(pack.name, str(pack.version))
    stacks = BotoAws(target).stacks
    poll = Poll(poll_seconds)
    base: dict[str, Any] = dict(pack=pack.name, version=str(pack.version), size=size.name, instance_type=size.instance_type,
                region=target.region, target="sandbox" if target.is_sandbox else "aws", stack=name)
    result: dict[str, Any] = {"ok": False, "status": "NOT_CREATED"}
    try:
        try:
            stacks.create(name, loaded.template_text, parameters_for(loaded, size),
                          {"arw:test-deploy": "true", "arw:domain": pack.name, "arw:pack-version": str(pack.version)})
        except AwsError as exc:
            result.update(status="CREATE_REFUSED", reason=f"CreateStack failed: {exc}")
        else:
            created = stacks.wait_create(name, timeout, poll=poll, on_status=on_status)
            result.update(status=created.status, create_seconds=round(created.seconds, 2))
            if created.failure:
                result.update(reason=created.failure.reason, failing_resource=created.failure.resource)
            else:
                missing = [o for o in pack.deployment.outputs if o not in created.outputs]
                resources = [{"logical_id": r.logical_id, "type": r.type, "physical_id": r.physical_id}
                             for r in stacks.resources(name)]
                result.update(ok=not missing, outputs=created.outputs, missing_outputs=missing, resources=resources,
                              reason=f"outputs missing: {', '.join(missing)}" if missing else None)
    except AwsError as exc:
        result.update(reason=str(exc))
    finally:
        result.update(_cleanup(stacks, name, timeout, poll))
    return SmokeReport(**base, **result)


def _cleanup(stacks: Stacks, name: str, timeout: float, poll: Poll) -> dict:
    try:
        if stacks.describe(name) is None:
            return {"cleaned_up": True}
        deleted = stacks.delete(name, timeout, poll=poll)
    except AwsError as exc:
        return {"cleaned_up": False, "cleanup_error": str(exc)}
    return {"cleaned_up": deleted.outcome == "succeeded", "delete_seconds": round(deleted.seconds, 2),
            "cleanup_error": None if deleted.outcome == "succeeded" else str(deleted.failure)}
