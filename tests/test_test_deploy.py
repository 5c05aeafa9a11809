"""registry test-deploy against the sandbox (a real moto server on 127.0.0.1)."""

from __future__ import annotations

import json

import boto3
from click.testing import CliRunner

from registry_tools.cli.main import cli

from .conftest import DOMAINS


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _stacks(endpoint) -> set[str]:
    """Stacks that exist in the sandbox (shared with other tests of this worker: compare before and after)."""
    cfn = boto3.client("cloudformation", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    return {s["StackId"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"}


def test_test_deploy_creates_checks_and_deletes(sandbox):
    before = _stacks(sandbox)
    result = run("registry", "test-deploy", "genomics@1.1.0", "--sandbox", "--json", "--domains-dir", str(DOMAINS))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] and report["status"] == "CREATE_COMPLETE" and report["cleaned_up"]
    assert report["instance_type"] == "r7i.4xlarge" and report["target"] == "sandbox"
    assert {"InstanceId", "BucketName", "ConnectCommand"} <= set(report["outputs"])
    assert any(r["type"] == "AWS::EC2::Instance" for r in report["resources"])
    assert _stacks(sandbox) == before


def test_forced_failure_is_reported_and_cleaned_up(sandbox, repo_copy):
    template_path = repo_copy / "domains" / "genomics" / "v1.2.0" / "cloudformation.json"
    template = json.loads(template_path.read_text())
    # a resource that fails after the network, role and instance were created
    template["Resources"]["BrokenIngress"] = {"Type": "AWS::EC2::SecurityGroupIngress", "DependsOn": "Instance",
                                              "Properties": {"GroupId": "sg-0000000000000dead", "IpProtocol": "tcp",
                                                             "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/8"}}
    template_path.write_text(json.dumps(template, indent=2))
    before = _stacks(sandbox)
    result = run("registry", "test-deploy", "genomics", "--size", "small", "--domains-dir", str(repo_copy / "domains"))
    assert result.exit_code == 1
    assert "FAILED genomics 1.2.0 (small)" in result.output
    assert "InvalidGroup.NotFound" in result.output and "cleanup: deleted" in result.output
    assert _stacks(sandbox) == before


def test_unknown_size_and_pack_are_clear_errors(sandbox):
    bad_size = run("registry", "test-deploy", "genomics", "--size", "huge", "--domains-dir", str(DOMAINS))
    assert bad_size.exit_code == 1 and "has no size 'huge'" in bad_size.output
    bad_pack = run("registry", "test-deploy", "nope@1.0.0", "--domains-dir", str(DOMAINS))
    assert bad_pack.exit_code == 1 and "no pack named 'nope'" in bad_pack.output
