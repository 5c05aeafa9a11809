"""The session model and its rules, pure: ids, records, reconcile, archive, cleanup; and the
deploy plan checked against a real pack and its template."""

from __future__ import annotations

import os
import pty
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from registry_tools.cli.keypress import QuitKey
from registry_tools.packs.loader import load_pack_files
from registry_tools.sessions import model
from registry_tools.sessions.lifecycle import DeployError, Detached, allowed_instance_types, plan, stack_name_for
from registry_tools.sessions.model import Observation, Session, SessionError

from .conftest import DOMAINS

NOW = datetime(2026, 6, 28, 16, 47, 30, tzinfo=UTC)


def session(**changes) -> Session:
    base = Session(id="ses_genomics_20260628_1647", domain="genomics", pack_version="1.2.0", pack_sha256="ab" * 32,
                   title="Genomics", stack_name="arw-genomics-20260628-1647", region="us-east-1",
                   account="123456789012", size="standard", instance_type="r7i.4xlarge",
                   launch_time="2026-06-28T16:47:00Z", last_accessed="2026-06-28T16:47:00Z")
    return replace(base, **changes)


def test_ids_look_like_the_design_and_retries_make_them_unique():
    assert model.session_id("genomics", NOW) == "ses_genomics_20260628_1647"
    assert model.session_id("genomics", NOW, 1) == "ses_genomics_20260628_1647_2"
    assert model.session_id("Machine-Learning", NOW) == "ses_machine_learning_20260628_1647"
    assert stack_name_for("ses_genomics_20260628_1647_2", "a1b2c3") == "arw-genomics-20260628-1647-2-a1b2c3"
    assert stack_name_for("ses_genomics_20260628_1647") != stack_name_for("ses_genomics_20260628_1647")
    with pytest.raises(SessionError, match="not a session id"):
        model.check_id("../etc/passwd")


def test_a_record_round_trips_through_its_parts_and_bad_ones_are_named():
    s = session(status=model.RUNNING, instance_ids=("i-1",), parameters={"InstanceType": "r7i.4xlarge"},
                monitoring=({"t": "x", "cost_usd": 1.5},))
    assert Session.from_dict(s.to_dict()) == s
    assert Session.from_parts(s.metadata(), s.state(), s.deployment(), s.monitoring_state()) == s
    assert s.summary()["cost_so_far_usd"] == 1.5
    with pytest.raises(SessionError, match="lacks"):
        Session.from_parts({"id": s.id})
    with pytest.raises(SessionError, match="unknown session status 'exploded'"):
        Session.from_dict({**s.to_dict(), "status": "exploded"})
    with pytest.raises(SessionError, match="not a time"):
        Session.from_dict({**s.to_dict(), "launch_time": "yesterday"})
    with pytest.raises(SessionError, match="not a mapping"):
        Session.from_parts(["a list"])


@pytest.mark.parametrize("before, seen, status, reason", [
    (model.LAUNCHING, Observation("CREATE_IN_PROGRESS"), model.LAUNCHING, None),
    (model.LAUNCHING, Observation("CREATE_COMPLETE", instance_states={"i-1": "running"}), model.RUNNING, None),
    (model.LAUNCHING, Observation("CREATE_COMPLETE", instance_states={"i-1": "pending"}), model.RUNNING, None),
    (model.RUNNING, Observation("CREATE_COMPLETE", instance_states={"i-1": "stopped"}), model.STOPPED, None),
    (model.STOPPED, Observation("CREATE_COMPLETE", instance_states={"i-1": "running"}), model.RUNNING, None),
    (model.RUNNING, Observation("CREATE_COMPLETE", instance_states={"i-1": "terminated"}), model.COMPLETED, None),
    (model.LAUNCHING, Observation("ROLLBACK_COMPLETE", failing_resource="Instance", failure_reason="Instance: no capacity"),
     model.FAILED, "Instance: no capacity"),
    (model.LAUNCHING, Observation("ROLLBACK_IN_PROGRESS", stack_reason="rolling back"), model.FAILED, "rolling back"),
    (model.LAUNCHING, Observation("CREATE_FAILED"), model.FAILED, "CREATE_FAILED"),
    (model.LAUNCHING, Observation("ROLLBACK_FAILED"), model.FAILED, "ROLLBACK_FAILED"),
    (model.LAUNCHING, Observation(None), model.FAILED, "no longer exists"),
    (model.RUNNING, Observation(None), model.COMPLETED, None),
    (model.RUNNING, Observation("DELETE_COMPLETE"), model.COMPLETED, None),
    (model.RUNNING, Observation("DELETE_IN_PROGRESS"), model.RUNNING, None),
    (model.COMPLETED, Observation(None), model.COMPLETED, None),
    (model.FAILED, Observation("ROLLBACK_COMPLETE", failure_reason="later"), model.FAILED, "first"),
])
def test_reconcile_records_what_aws_says(before, seen, status, reason):
    start = session(status=before, failure_reason="first" if before == model.FAILED else None,
                    stack_status="CREATE_IN_PROGRESS")  # the stack was seen once
    after = model.reconcile(start, seen, NOW)
    assert after.status == status
    if status == model.FAILED:
        assert reason in after.failure_reason
    if status in model.FINISHED and before not in model.FINISHED:
        assert after.ended_at == "2026-06-28T16:47:30Z"
    if before == model.RUNNING and seen.stack_status in (None, "DELETE_COMPLETE"):
        assert "deleted outside aws-research-wizard" in after.status_reason


def test_a_stack_not_created_yet_is_waited_for_then_the_session_fails():
    """A deploy saves the session before CreateStack: a reconcile in between (another machine's
    `sessions list`) must not fail it, unless the stack never appears."""
    fresh = session(status=model.LAUNCHING)
    waiting = model.reconcile(fresh, Observation(None), NOW)
    assert waiting.status == model.LAUNCHING and "waiting for stack" in waiting.status_reason
    later = model.reconcile(fresh, Observation(None), NOW + model.STACK_APPEARS_WITHIN)
    assert later.status == model.FAILED and "no longer exists" in later.failure_reason
    seen = model.reconcile(fresh, Observation("CREATE_IN_PROGRESS"), NOW)
    assert seen.stack_status == "CREATE_IN_PROGRESS"
    assert model.reconcile(seen, Observation(None), NOW).status == model.FAILED  # seen once: it was deleted


def test_reconcile_takes_instances_resources_and_outputs():
    seen = Observation("CREATE_COMPLETE", instance_states={"i-9": "running"}, outputs={"InstanceId": "i-9"},
                       resources=({"logical_id": "Instance", "type": "AWS::EC2::Instance", "physical_id": "i-9"},
                                  {"logical_id": "VPC", "type": "AWS::EC2::VPC", "physical_id": "vpc-1"}))
    after = model.reconcile(session(), seen, NOW)
    assert after.instance_ids == ("i-9",) and after.outputs == {"InstanceId": "i-9"} and len(after.resources) == 2


def test_archive_only_finished_sessions_unless_forced():
    with pytest.raises(SessionError, match="destroy it first, or use --force"):
        model.archive(session(status=model.RUNNING))
    assert model.archive(session(status=model.RUNNING), force=True).archived
    assert model.archive(session(status=model.FAILED)).archived


def test_cleanup_takes_old_finished_sessions_only():
    rows = [session(id=f"ses_x_20260101_000{i}", status=status, last_accessed=accessed).summary()
            for i, (status, accessed) in enumerate([
                (model.COMPLETED, "2026-01-01T00:00:00Z"), (model.FAILED, "2026-06-27T00:00:00Z"),
                (model.RUNNING, "2026-01-01T00:00:00Z"), (model.STOPPED, "2026-01-01T00:00:00Z"),
                (model.FAILED, "2026-01-02T00:00:00Z")])]
    assert model.cleanup_candidates(rows, NOW, model.parse_age("30d")) == ["ses_x_20260101_0000", "ses_x_20260101_0004"]
    assert len(model.cleanup_candidates(rows, NOW, model.parse_age("1h"))) == 3
    assert model.parse_age("2w") == timedelta(weeks=2) and model.parse_age("90m") == timedelta(minutes=90)
    with pytest.raises(SessionError, match="not an age: 'soon'"):
        model.parse_age("soon")


def test_monitoring_history_is_capped():
    s = model.add_samples(session(), [{"i": i} for i in range(model.MONITORING_HISTORY_MAX + 5)])
    assert len(s.monitoring) == model.MONITORING_HISTORY_MAX and s.monitoring[-1] == {"i": model.MONITORING_HISTORY_MAX + 4}


# --- the deploy plan against the real genomics pack ----------------------------------------------


@pytest.fixture(scope="module")
def genomics():
    return load_pack_files(DOMAINS / "genomics" / "v1.2.0")


def test_plan_defaults_and_checks(genomics):
    default = plan(genomics, default_region="us-west-2")
    assert default.size.name == "standard" and default.instance_type == "r7i.4xlarge" and default.region == "us-west-2"
    assert default.parameters == {"InstanceType": "r7i.4xlarge", "RootVolumeGiB": "500"}
    assert plan(genomics, default_region="ap-south-1").region == "us-east-1"  # unsupported default: the pack's first
    gpu = plan(genomics, size="gpu", instance="r7i.12xlarge", params={"RootVolumeGiB": "800"})
    assert gpu.instance_type == "r7i.12xlarge" and gpu.parameters["RootVolumeGiB"] == "800"
    assert allowed_instance_types(genomics.template) == ("m7i.2xlarge", "r7i.4xlarge", "r7i.12xlarge", "g5.12xlarge")
    for kwargs, message in [
        ({"instance": "t3.nano"}, "instance type 't3.nano' is not allowed by its template"),
        ({"params": {"InstanceType": "t3.nano"}}, "instance type 't3.nano' is not allowed"),
        ({"size": "huge"}, "has no size 'huge'"),
        ({"region": "mars-1"}, "does not support region 'mars-1'"),
        ({"params": {"Nope": "1"}}, "has no parameter 'Nope'"),
        ({"instance": "m7i.2xlarge", "params": {"InstanceType": "r7i.4xlarge"}}, "disagrees with --instance"),
    ]:
        with pytest.raises(DeployError, match=message):
            plan(genomics, **kwargs)


def test_q_on_a_terminal_detaches_and_anything_else_waits():
    master, slave = pty.openpty()
    with os.fdopen(slave, "r") as terminal, QuitKey(terminal) as keys:
        os.write(master, b"x")
        keys.wait(0.05)  # another key: keeps waiting
        os.write(master, b"q")
        with pytest.raises(Detached):
            keys.wait(5)
    os.close(master)
    with QuitKey(open(os.devnull)) as keys:  # not a terminal: just sleeps
        keys.wait(0.01)
