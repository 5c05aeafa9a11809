"""Sessions end to end in the sandbox, through the real console scripts: deploy, list, quit,
resume from a new process, archive, cleanup, destroy; a failing template ends `failed` naming
the resource; a stack deleted behind the tool's back is reconciled; the same flow on S3
session storage from two ARW_HOME directories (two machines) sharing one bucket."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from registry_tools.client.install import RECEIPT, Receipt, file_digests

from .conftest import DOMAINS
from .test_build import small_repo  # noqa: F401  (fixture)
from .test_client_index import served, signed_dist  # noqa: F401  (fixtures)

BIN = Path(sys.executable).parent
ARW = str(BIN / "aws-research-wizard")


@pytest.fixture
def machine(sandbox_home, tmp_path):
    """A fresh ARW_HOME that uses the running sandbox, with genomics 1.2.0 installed; call
    it again for a second machine."""
    home, endpoint = sandbox_home

    def make(name: str = "machine-a", template_change=None, installed: bool = True) -> dict:
        arw_home = tmp_path / name
        arw_home.mkdir()
        shutil.copy(home / "sandbox.json", arw_home / "sandbox.json")
        if installed:
            install_pack(arw_home, template_change)
        return {**os.environ, "ARW_HOME": str(arw_home), "ARW_POLL_SECONDS": "0.1", "AWS_ENDPOINT_URL": "",
                "ARW_SANDBOX": "1"}

    make.endpoint = endpoint
    return make


def install_pack(arw_home: Path, template_change=None) -> None:
    """genomics 1.2.0 as `config install` leaves it (installing itself is tested elsewhere)."""
    target = arw_home / "domains" / "genomics" / "1.2.0"
    shutil.copytree(DOMAINS / "genomics" / "v1.2.0", target)
    if template_change:
        path = target / "cloudformation.json"
        template = json.loads(path.read_text())
        template_change(template)
        path.write_text(json.dumps(template, indent=2))
    receipt = Receipt("genomics", "1.2.0", "ab" * 32, 1, "test", "lab", "http://127.0.0.1/", "official",
                      "2026-11-29T00:00:00Z", file_digests(target))
    (target / RECEIPT).write_text(json.dumps(receipt.to_dict()))


def arw(env: dict, *args: str, program: str = ARW) -> subprocess.CompletedProcess:
    return subprocess.run([program, *args], env=env, capture_output=True, text=True, timeout=300)


def ok(env: dict, *args: str) -> str:
    result = arw(env, *args)
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stdout


def sessions(env: dict, *extra: str) -> list[dict]:
    """The listing as JSON, checked against the click command (the console script answers
    `sessions list` from active_sessions.json without click when it can)."""
    fast = ok(env, "sessions", "list", "--json", *extra)
    code = "import sys; from registry_tools.cli.main import main; sys.argv[0] = 'aws-research-wizard'; main()"
    full = subprocess.run([sys.executable, "-c", code, "sessions", "list", "--json", *extra], env=env,
                          capture_output=True, text=True, timeout=120)
    assert full.returncode == 0 and full.stdout == fast, full.stderr
    return json.loads(fast)


def cloudformation(endpoint: str):
    return boto3.client("cloudformation", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_deploy_quit_resume_archive_cleanup_destroy(machine):
    env = machine()
    out = ok(env, "deploy", "--domain", "genomics", "--detach")
    assert "[SANDBOX]" in out and "Session saved. Resume with: --session ses_genomics_" in out
    session_id = out.split("--session ")[1].split()[0]
    listed = sessions(env)
    # the stack finished while nobody watched: listing brings a launching session up to date (as resume does)
    assert [s["id"] for s in listed] == [session_id] and listed[0]["status"] == "running"
    stack = cloudformation(machine.endpoint).describe_stacks(StackName=listed[0]["stack_name"])["Stacks"][0]
    tags = {t["Key"]: t["Value"] for t in stack["Tags"]}
    assert tags == {"arw:session-id": session_id, "arw:domain": "genomics", "arw:pack-version": "1.2.0"}
    # quit; a new process resumes: the stack finished while nobody watched
    resumed = ok(env, "deploy", "--session", session_id)
    assert "running" in resumed and "Output InstanceId" in resumed
    shown = json.loads(ok(env, "sessions", "show", session_id, "--json"))
    assert shown["status"] == "running" and shown["instance_ids"] and shown["account"] == "123456789012"
    assert shown["parameters"] == {"InstanceType": "r7i.4xlarge", "RootVolumeGiB": "500"}
    assert any(r["type"] == "AWS::EC2::Instance" for r in shown["resources"])
    assert shown["last_accessed"] >= shown["launch_time"]
    refused = arw(env, "sessions", "archive", session_id)
    assert refused.returncode == 1 and "is running; only completed or failed sessions are archived" in refused.stderr
    assert "Destroyed" in ok(env, "sessions", "destroy", session_id)
    assert sessions(env) == [] and sessions(env, "--all")[0]["status"] == "completed"
    assert "No sessions (--all shows finished and archived ones)" in ok(env, "sessions", "list")
    assert ok(env, "deploy", "sessions", "list", "--all").splitlines()[1].startswith(session_id)
    ok(env, "deploy", "sessions", "archive", session_id)
    assert sessions(env, "--all")[0]["archived"] is True
    assert session_id in ok(env, "sessions", "cleanup", "--older-than", "0m", "--dry-run")
    assert sessions(env, "--all") != []
    assert json.loads(ok(env, "sessions", "cleanup", "--older-than", "0m", "--json")) == {"removed": [session_id]}
    assert sessions(env, "--all") == []


def test_two_sessions_in_the_same_minute_and_the_standalone_program(machine):
    env = machine()
    first = json.loads(ok(env, "deploy", "--domain", "genomics", "--json"))
    second = subprocess.run([str(BIN / "aws-research-wizard-deploy"), "--domain", "genomics@1.2.0", "--size", "small",
                             "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    second = json.loads(second.stdout)
    assert first["status"] == second["status"] == "running"
    assert first["id"] != second["id"] and second["instance_type"] == "m7i.xlarge" or second["size"] == "small"
    assert len(sessions(env)) == 2
    for s in (first, second):
        ok(env, "sessions", "destroy", s["id"])


def test_a_failing_template_ends_failed_naming_the_resource(machine):
    def broken(template):
        template["Resources"]["BrokenIngress"] = {
            "Type": "AWS::EC2::SecurityGroupIngress", "DependsOn": "Instance",
            "Properties": {"GroupId": "sg-0000000000000dead", "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                           "CidrIp": "10.0.0.0/8"}}

    env = machine(template_change=broken)
    result = arw(env, "deploy", "--domain", "genomics")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "failed at BrokenIngress" in result.stderr and "InvalidGroup.NotFound" in result.stderr
    (failed,) = sessions(env, "--all")
    shown = json.loads(ok(env, "sessions", "show", failed["id"], "--json"))
    assert shown["status"] == "failed" and shown["failing_resource"] == "BrokenIngress"
    ok(env, "sessions", "destroy", failed["id"])
    assert json.loads(ok(env, "sessions", "show", failed["id"], "--json"))["status"] == "failed"


def test_a_stack_deleted_behind_the_tools_back_is_reconciled(machine):
    env = machine()
    session = json.loads(ok(env, "deploy", "--domain", "genomics", "--json"))
    cloudformation(machine.endpoint).delete_stack(StackName=session["stack_name"])
    resumed = json.loads(ok(env, "sessions", "resume", session["id"], "--json"))
    assert resumed["status"] == "completed" and "deleted outside aws-research-wizard" in resumed["status_reason"]


def test_bad_requests_are_clear_errors_and_create_nothing(machine):
    env = machine()
    for args, message in [
        (["--domain", "genomics", "--instance", "t3.nano"], "instance type 't3.nano' is not allowed by its template"),
        (["--domain", "genomics", "--param", "Nope=1"], "has no parameter 'Nope'"),
        (["--domain", "genomics", "--param", "novalue"], "--param takes KEY=VALUE"),
        (["--domain", "genomics", "--region", "mars-1"], "does not support region 'mars-1'"),
        ([], "give --domain NAME[@VERSION] to deploy"),
    ]:
        result = arw(env, "deploy", *args)
        assert result.returncode in (1, 2) and message in result.stderr and "Traceback" not in result.stderr, args
    assert sessions(env, "--all") == []
    missing = arw(env, "sessions", "show", "ses_nope_20260101_0000")
    assert missing.returncode == 1 and "no session ses_nope_20260101_0000" in missing.stderr


def test_s3_session_state_shared_by_two_machines(machine):
    s3 = boto3.client("s3", endpoint_url=machine.endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    bucket = f"arw-sessions-{os.getpid()}"
    s3.create_bucket(Bucket=bucket)
    state = f"s3://{bucket}/team"
    laptop, workstation = machine("laptop"), machine("workstation")
    session = json.loads(ok(laptop, "deploy", "--domain", "genomics", "--state", state, "--json"))
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    prefix = f"team/123456789012/sessions/{session['id']}/"
    assert {prefix + "metadata.yaml", prefix + "deployment.json", prefix + "monitoring.state"} <= keys
    assert not (Path(laptop["ARW_HOME"]) / "sessions").exists()  # nothing local
    seen = sessions({**workstation, "ARW_SESSION_STATE": state})
    assert [s["id"] for s in seen] == [session["id"]]
    ok(workstation, "sessions", "destroy", session["id"], "--state", state)
    assert sessions(laptop, "--all", "--state", state)[0]["status"] == "completed"


def test_deploy_installs_the_pack_from_a_registry_first(machine, served, fixture_time):  # noqa: F811
    _, _, key, _, url = served
    env = machine("fresh", installed=False)
    ok(env, "config", "registries", "remove", "public")  # only the loopback registry: tests never leave 127.0.0.1
    ok(env, "config", "registries", "add", "lab", url, "--trust-key", f"{key}.pub")
    out = ok(env, "deploy", "--domain", "genomics@~1.1", "--detach")
    assert "Installing genomics@~1.1" in out and "Installed genomics 1.1." in out
    assert "Session saved" in out
    (row,) = sessions(env)
    assert row["pack_version"].startswith("1.1.")
    receipt = json.loads((Path(env["ARW_HOME"]) / "domains" / "genomics" / row["pack_version"] / RECEIPT).read_text())
    assert json.loads(ok(env, "sessions", "show", row["id"], "--json"))["pack_sha256"] == receipt["sha256"]
    ok(env, "sessions", "destroy", row["id"])
