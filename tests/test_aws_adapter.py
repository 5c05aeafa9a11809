"""The AWS adapter's named operations against moto (``mock_aws``, in process): stacks, instances,
metrics, costs and identity return plain values, split their ids and queries at the API limits
(counted with botocore's event hooks), follow pages, and turn every failure into ``AwsError``."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from moto import mock_aws

from registry_tools.aws.adapter import BotoAws, transition_time
from registry_tools.aws.interface import GONE, AwsError, Identity, Instance, MetricQuery, Poll, Stack, Target

from .conftest import aws_now

TEMPLATE = json.dumps({
    "Resources": {"Results": {"Type": "AWS::S3::Bucket"},
                  "Jobs": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "arw-adapter-jobs"}}},
    "Outputs": {"ResultsBucket": {"Value": {"Ref": "Results"}}},
})


@pytest.fixture
def aws():
    with mock_aws():
        yield BotoAws(Target("us-east-1"))


def sizes(aws: BotoAws, service: str, operation: str, key: str) -> list[int]:
    """How many items each later *operation* call is asked for (its *key* parameter), in order."""
    seen: list[int] = []
    aws.clients(service).meta.events.register(f"before-parameter-build.{service}.{operation}",
                                              lambda params, **kwargs: seen.append(len(params[key])))
    return seen


def run_instances(aws: BotoAws, count: int) -> list[str]:
    answer = aws.clients("ec2").run_instances(ImageId="ami-12c6146b", MinCount=count, MaxCount=count,
                                              InstanceType="t3.micro")
    return [i["InstanceId"] for i in answer["Instances"]]


def test_identity(aws):
    assert aws.identity() == Identity("123456789012", "arn:aws:sts::123456789012:user/moto")
    assert aws.target == Target("us-east-1")


def test_a_stack_created_described_and_deleted(aws):
    statuses: list[str] = []
    events: list[dict] = []
    aws.stacks.create("arw-adapter", TEMPLATE, {}, {"arw:session-id": "ses_x"})
    result = aws.stacks.wait_create("arw-adapter", 60, poll=Poll(0), on_status=statuses.append,
                                    on_event=events.append)
    assert result.outcome == "succeeded" and result.status == "CREATE_COMPLETE" and result.failure is None
    stack = aws.stacks.describe("arw-adapter")
    assert isinstance(stack, Stack) and stack.status == "CREATE_COMPLETE"
    assert stack.outputs == result.outputs and stack.outputs["ResultsBucket"]
    assert statuses == ["CREATE_COMPLETE"]
    assert events and events == list(reversed(aws.stacks.events("arw-adapter")))  # oldest first, each once
    resources = {r.logical_id: r for r in aws.stacks.resources("arw-adapter")}
    assert resources["Results"].type == "AWS::S3::Bucket" and resources["Results"].physical_id == stack.outputs["ResultsBucket"]
    assert resources["Jobs"].status == "CREATE_COMPLETE"
    deleted = aws.stacks.delete("arw-adapter", 60, poll=Poll(0))
    assert deleted.outcome == "succeeded" and aws.stacks.describe("arw-adapter") is None


def test_a_missing_stack_is_none_and_other_failures_are_aws_errors(aws):
    assert aws.stacks.describe("arw-nowhere") is None
    with pytest.raises(AwsError) as raised:
        aws.stacks.events("arw-nowhere")
    assert raised.value.code == "ValidationError" and "arw-nowhere" in str(raised.value)
    aws.stacks.create("arw-twice", TEMPLATE, {}, {})
    with pytest.raises(AwsError) as again:
        aws.stacks.create("arw-twice", TEMPLATE, {}, {})
    assert again.value.code == "AlreadyExistsException" and str(again.value).startswith("AlreadyExistsException: ")


def test_instances_described_many_at_once_with_vanished_ids_terminated(aws):
    ids = run_instances(aws, 3)
    aws.clients("ec2").stop_instances(InstanceIds=[ids[2]])
    asked = sizes(aws, "ec2", "DescribeInstances", "InstanceIds")
    seen = aws.instances.describe([*ids, "i-0123456789abcdef0", ids[0]])
    assert asked == [4, 3]  # once, then again without the id EC2 named as unknown
    assert seen["i-0123456789abcdef0"] == Instance(GONE)
    assert seen[ids[0]].state == "running" and seen[ids[0]].started is not None and seen[ids[0]].stopped is None
    assert seen[ids[2]].state == "stopped" and seen[ids[2]].stopped is not None
    assert abs(seen[ids[2]].stopped - aws_now()) < timedelta(minutes=5)
    assert aws.instances.describe([]) == {}


def test_status_checks_take_100_ids_a_call(aws):
    ids = run_instances(aws, 250)
    asked = sizes(aws, "ec2", "DescribeInstanceStatus", "InstanceIds")
    checks = aws.instances.status_checks(ids)
    assert asked == [100, 100, 50]
    assert len(checks) == 250 and checks[ids[249]] == {"system": "ok", "instance": "ok"}
    assert aws.instances.status_checks([ids[0], "i-0123456789abcdef0"]) == {ids[0]: {"system": "ok", "instance": "ok"}}


def test_instances_stopped_and_started_until_ec2_says_so(aws):
    ids = run_instances(aws, 2)
    slept: list[float] = []
    assert aws.instances.set_running(ids, False, timeout=60, poll=Poll(0.01, slept.append)) == dict.fromkeys(ids, "stopped")
    assert {i.state for i in aws.instances.describe(ids).values()} == {"stopped"}
    assert aws.instances.set_running(ids, True, timeout=60, poll=Poll(0.01, slept.append)) == dict.fromkeys(ids, "running")
    assert all(seconds == 0.01 for seconds in slept)
    with pytest.raises(AwsError, match="InvalidInstanceID"):
        aws.instances.set_running(["i-0123456789abcdef0"], True, timeout=1)


def test_metrics_take_500_queries_a_call_and_keep_each_series_apart(aws):
    now = aws_now().replace(microsecond=0)
    for k, value in ((0, 1.0), (499, 2.0), (500, 3.0), (1199, 4.0)):
        aws.clients("cloudwatch").put_metric_data(Namespace="Lab", MetricData=[
            {"MetricName": "Load", "Dimensions": [{"Name": "Node", "Value": f"n{k}"}], "Value": value,
             "Timestamp": now - timedelta(minutes=m)} for m in (10, 5)])
    queries = [MetricQuery(f"q{k}", "Lab", "Load", (("Node", f"n{k}"),), 60) for k in range(1200)]
    asked = sizes(aws, "cloudwatch", "GetMetricData", "MetricDataQueries")
    series = aws.metrics.series(queries, now - timedelta(hours=1), now)
    assert asked == [500, 500, 200]
    assert [v for _, v in series["q0"]] == [1.0, 1.0] and [v for _, v in series["q1199"]] == [4.0, 4.0]
    assert [v for _, v in series["q500"]] == [3.0, 3.0] and not series.get("q1")
    assert series["q499"][0][0] < series["q499"][1][0]  # oldest first


def test_costs_by_tag_add_up_every_day_of_every_page(aws):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_api._internal.models import moto_api_backend

    for page in ({"ResultsByTime": [{"Total": {"UnblendedCost": {"Amount": "12.5", "Unit": "USD"}}},
                                    {"Total": {"UnblendedCost": {"Amount": "", "Unit": "USD"}}}],
                  "NextPageToken": "page-2"},
                 {"ResultsByTime": [{"Total": {"UnblendedCost": {"Amount": "7.25", "Unit": "USD"}}}]}):
        moto_api_backend.set_ce_cost_usage(result=page, account_id=DEFAULT_ACCOUNT_ID)
    filters: list[dict] = []
    aws.clients.events.register("before-parameter-build.ce.GetCostAndUsage",
                                lambda params, **kwargs: filters.append(params["Filter"]))
    assert aws.costs.by_tag("arw:session-id", "ses_x", date(2026, 6, 28), date(2026, 6, 30)) == 19.75
    assert filters == [{"Tags": {"Key": "arw:session-id", "Values": ["ses_x"]}}] * 2


def test_transition_times_from_ec2_reasons():
    assert transition_time("User initiated (2026-06-28 17:00:00 GMT)") == datetime(2026, 6, 28, 17, tzinfo=UTC)
    assert transition_time("User initiated (2026-12-04 16:50:21 UTC)") == datetime(2026, 12, 4, 16, 50, 21, tzinfo=UTC)
    assert transition_time("Server.SpotInstanceTermination") is None
    assert transition_time("") is None and transition_time(None) is None
    assert transition_time("User initiated (2026-13-45 99:00:00 GMT)") is None
