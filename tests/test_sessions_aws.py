"""Sessions on a real account, shown against the sandbox through the real console scripts: bare
`sessions`, `deploy --dry-run`, parameters checked before anything is created, pins, AWS profiles
(their region, recorded with the endpoint so any machine can resume), who launched a session,
stop/start, `connect` (a fake `aws` on PATH), the emulator's own failures, credential errors."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import boto3
import pytest

from registry_tools.client.install import RECEIPT, Receipt, file_digests

from .conftest import DOMAINS
from .test_sessions_cli import BIN, arw, machine, ok, sessions  # noqa: F401  (fixture)

MOTO_CALLER = "arn:aws:sts::123456789012:user/moto"  # what moto's GetCallerIdentity answers


def stacks(endpoint: str, region: str = "us-east-1") -> set[str]:
    cfn = boto3.client("cloudformation", endpoint_url=endpoint, region_name=region,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    return {s["StackId"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"}


def install_version(arw_home: Path, version: str, sha256: str) -> None:
    target = arw_home / "domains" / "genomics" / version
    shutil.copytree(DOMAINS / "genomics" / f"v{version}", target)
    receipt = Receipt("genomics", version, sha256, 1, "test", "lab", "http://127.0.0.1/", "official",
                      "2026-11-29T00:00:00Z", file_digests(target))
    (target / RECEIPT).write_text(json.dumps(receipt.to_dict()))


def test_bare_sessions_lists_active_sessions(machine):  # noqa: F811
    env = machine()
    session = json.loads(ok(env, "deploy", "--domain", "genomics", "--json"))
    for program in ("aws-research-wizard", "aws-research-wizard-deploy"):
        result = subprocess.run([str(BIN / program), "sessions"], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert session["id"] in result.stdout and result.stdout.startswith("ID ")
    ok(env, "sessions", "destroy", session["id"])


def test_dry_run_shows_the_plan_and_creates_nothing(machine):  # noqa: F811
    env = machine()
    before = stacks(machine.endpoint)
    plan = json.loads(ok(env, "deploy", "--domain", "genomics", "--dry-run", "--json"))
    assert plan["dry_run"] and plan["pack"] == "genomics" and plan["version"] == "1.2.0" and plan["sha256"] == "ab" * 32
    assert plan["size"] == "standard" and plan["instance_type"] == "r7i.4xlarge"
    assert plan["parameters"]["RootVolumeGiB"] == "500" and plan["target"]["sandbox"]
    assert {"logical_id": "Instance", "type": "AWS::EC2::Instance"} in plan["resources"]
    assert plan["iam"]["statements"] and plan["iam"]["managed_policies"]
    assert plan["cost"]["monthly_usd"] == 812.63 and plan["cost"]["hourly_usd"] > 1
    text = ok(env, "deploy", "--domain", "genomics", "--size", "small", "--dry-run")
    assert text.startswith("Dry run: nothing is created.") and "m7i.2xlarge" in text and "IAM permissions" in text
    assert stacks(machine.endpoint) == before
    assert sessions(env, "--all") == []


@pytest.mark.parametrize(("param", "message"), [
    ("RootVolumeGiB=abc", "parameter RootVolumeGiB must be a number like 100 or 2.5, got 'abc'"),
    ("RootVolumeGiB=nan", "parameter RootVolumeGiB must be a number like 100 or 2.5, got 'nan'"),
    ("RootVolumeGiB=1e3", "parameter RootVolumeGiB must be a number like 100 or 2.5, got '1e3'"),
    ("RootVolumeGiB=5", "parameter RootVolumeGiB must be at least 30, got '5'"),
    ("InstanceType=t2.nano", "instance type 't2.nano' is not allowed by its template"),
])
def test_a_bad_parameter_is_one_error_and_leaves_nothing(machine, param, message):  # noqa: F811
    env = machine()
    before = stacks(machine.endpoint)
    result = arw(env, "deploy", "--domain", "genomics", "--param", param)
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert sessions(env, "--all") == [] and stacks(machine.endpoint) == before


def test_deploy_honours_pins(machine):  # noqa: F811
    env = machine()  # genomics 1.2.0 installed
    home = Path(env["ARW_HOME"])
    install_version(home, "1.1.0", "cd" * 32)
    (home / "pins.yaml").write_text("genomics: {version: 1.1.0, sha256: " + "cd" * 32 + "}\n")
    session = json.loads(ok(env, "deploy", "--domain", "genomics", "--detach", "--json"))
    assert session["pack_version"] == "1.1.0" and session["pack_sha256"] == "cd" * 32
    refused = arw(env, "deploy", "--domain", "genomics@1.2.0", "--detach")
    assert refused.returncode == 1 and "genomics is pinned at 1.1.0; unpin it to deploy 1.2.0" in refused.stderr
    ok(env, "sessions", "destroy", session["id"])


def test_a_profile_gives_the_region_and_the_session_keeps_its_target(machine, tmp_path):  # noqa: F811
    """Deployed with --profile (its region us-west-2) at an endpoint from AWS_ENDPOINT_URL; resumed from a
    shell that has neither, the session still reaches the same place; a machine without the profile is
    told which one to create."""
    env = machine("profiled")
    (Path(env["ARW_HOME"]) / "sandbox.json").unlink()  # not the sandbox: an endpoint and a profile, as on AWS
    config, credentials = tmp_path / "aws-config", tmp_path / "aws-credentials"
    config.write_text("[profile lab]\nregion = us-west-2\n")
    credentials.write_text("[lab]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    env = {**env, "ARW_SANDBOX": "", "AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
           "AWS_ENDPOINT_URL": machine.endpoint}
    for key in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(key, None)
    session = json.loads(ok(env, "deploy", "--domain", "genomics", "--profile", "lab", "--json"))
    assert session["region"] == "us-west-2" and session["status"] == "running"
    assert session["profile"] == "lab" and session["endpoint_url"] == machine.endpoint and not session["sandbox"]
    elsewhere = {k: v for k, v in env.items() if k != "AWS_ENDPOINT_URL"}
    resumed = json.loads(ok(elsewhere, "sessions", "resume", session["id"], "--json"))
    assert resumed["status"] == "running" and resumed["instance_ids"] == session["instance_ids"]
    (tmp_path / "empty").write_text("")
    other_machine = {**elsewhere, "AWS_CONFIG_FILE": str(tmp_path / "empty"),
                     "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "empty")}
    missing = arw(other_machine, "sessions", "resume", session["id"], "--json")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert ("was deployed with the AWS profile 'lab', which is not configured on this machine: create it "
            "(`aws configure sso --profile lab`") in missing.stderr
    ok(elsewhere, "sessions", "destroy", session["id"])


def test_who_launched_a_session_is_recorded_and_listed(machine):  # noqa: F811
    env = machine()
    session = json.loads(ok(env, "deploy", "--domain", "genomics", "--json"))
    assert session["launched_by"] == MOTO_CALLER and session["launched_from"] == socket.gethostname()
    listing = ok(env, "sessions", "list")
    header, row = listing.splitlines()[:2]
    assert " BY " in header and row.split()[0] == session["id"] and " moto " in row
    shown = ok(env, "sessions", "show", session["id"])
    assert f"by {MOTO_CALLER} from {socket.gethostname()}" in shown
    ok(env, "sessions", "destroy", session["id"])


def test_stop_and_start(machine):  # noqa: F811
    env = machine()
    session = json.loads(ok(env, "deploy", "--domain", "genomics", "--json"))
    stopped = ok(env, "sessions", "stop", session["id"])
    assert "is stopped: only its storage is charged now ($40.00 per month)" in stopped  # 500 GiB gp3
    assert json.loads(ok(env, "sessions", "show", session["id"], "--json"))["status"] == "stopped"
    snap = json.loads(ok(env, "monitor", "--session", session["id"], "--once", "--json"))
    assert snap["instance_state"] == "stopped" and snap["projected_monthly_usd"] == 40.0
    again = arw(env, "sessions", "stop", session["id"])
    assert again.returncode == 0  # stopping a stopped session changes nothing
    started = ok(env, "sessions", "start", session["id"])
    assert "is running: instance and storage are charged ($812.63 per month)" in started
    assert json.loads(ok(env, "monitor", "--session", session["id"], "--once", "--json"))["instance_state"] == "running"
    ok(env, "sessions", "destroy", session["id"])
    finished = arw(env, "sessions", "start", session["id"])
    assert finished.returncode == 1 and "is completed; only a running or stopped session can be started" in finished.stderr


def test_connect_runs_ssm_start_session(machine, tmp_path):  # noqa: F811
    env = machine()
    session = json.loads(ok(env, "deploy", "--domain", "genomics", "--json"))
    instance = session["instance_ids"][0]
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    record = tmp_path / "aws-args.json"
    (bin_dir / "aws").write_text(f"#!/bin/sh\n{shutil.which('python3')} -c 'import json, sys; "
                                 f"json.dump(sys.argv[1:], open(\"{record}\", \"w\"))' \"$@\"\n")
    (bin_dir / "aws").chmod(0o755)
    path = f"{bin_dir}:{env['PATH']}"
    no_plugin = arw({**env, "PATH": path}, "sessions", "connect", session["id"])
    assert no_plugin.returncode == 1 and "session-manager-working-with-install-plugin.html" in no_plugin.stderr
    (bin_dir / "session-manager-plugin").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "session-manager-plugin").chmod(0o755)
    ok({**env, "PATH": path}, "sessions", "connect", session["id"])
    assert json.loads(record.read_text()) == ["ssm", "start-session", "--target", instance, "--region", "us-east-1",
                                              "--endpoint-url", machine.endpoint]
    ok({**env, "PATH": path}, "sessions", "connect", session["id"], "--port-forward", "8888:8889")
    args = json.loads(record.read_text())
    assert args[args.index("--document-name") + 1] == "AWS-StartPortForwardingSession"
    assert json.loads(args[args.index("--parameters") + 1]) == {"portNumber": ["8889"], "localPortNumber": ["8888"]}
    bad = arw({**env, "PATH": path}, "sessions", "connect", session["id"], "--port-forward", "8888")
    assert bad.returncode == 2 and "use LOCAL:REMOTE ports" in bad.stderr
    missing = arw({**env, "PATH": str(tmp_path / "nothing-here")}, "sessions", "connect", session["id"])
    assert missing.returncode == 1 and "getting-started-install.html" in missing.stderr
    ok(env, "sessions", "stop", session["id"])
    stopped = arw({**env, "PATH": path}, "sessions", "connect", session["id"])
    assert stopped.returncode == 1 and f"start it with: aws-research-wizard sessions start {session['id']}" in stopped.stderr
    ok(env, "sessions", "destroy", session["id"])


def test_the_sandbox_failing_on_a_template_fails_the_session_with_a_whole_reason(machine):  # noqa: F811
    def broken(template):  # moto creates the stack, then answers every DescribeStacks with an HTTP 500 page
        template["Outputs"]["Broken"] = {"Value": {"Fn::Sub": ["${Missing}", {}]}}

    env = machine("broken", template_change=broken)
    result = arw(env, "deploy", "--domain", "genomics", "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    session = json.loads(result.stdout)
    assert session["status"] == "failed"
    assert session["failure_reason"] == ("the sandbox failed on this stack: the endpoint did not answer like AWS "
                                         "(it returned 500 Internal Server Error)")
    resumed = json.loads(ok(env, "sessions", "resume", session["id"], "--json"))
    assert resumed["status"] == "failed" and resumed["failure_reason"] == session["failure_reason"]
    destroyed = ok(env, "sessions", "destroy", session["id"])
    assert "Destroyed" in destroyed


def test_missing_credentials_say_what_to_do(machine, tmp_path):  # noqa: F811
    env = machine("no-credentials")
    (Path(env["ARW_HOME"]) / "sandbox.json").unlink()
    (tmp_path / "empty").write_text("")
    env = {**env, "ARW_SANDBOX": "", "AWS_ENDPOINT_URL": machine.endpoint, "AWS_CONFIG_FILE": str(tmp_path / "empty"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "empty"), "AWS_EC2_METADATA_DISABLED": "true"}
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"):
        env.pop(key, None)
    result = arw(env, "deploy", "--domain", "genomics")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Unable to locate credentials: set up credentials with `aws configure`" in result.stderr
    assert "aws sso login" in result.stderr
    assert sessions({**env, "AWS_ENDPOINT_URL": ""}, "--all") == []
    unknown = arw(env, "deploy", "--domain", "genomics", "--profile", "nope")
    assert unknown.returncode == 1 and "the AWS profile 'nope' is not configured on this machine" in unknown.stderr


def test_rejected_credentials_are_explained():
    from botocore.stub import Stubber

    from registry_tools.aws.adapter import BotoAws
    from registry_tools.aws.interface import AwsError, Target

    aws = BotoAws(Target("us-east-1"))
    with Stubber(aws.clients("sts")) as stub:
        stub.add_client_error("get_caller_identity", "ExpiredToken", "The security token included in the request is expired")
        with pytest.raises(AwsError, match=r"ExpiredToken: .* \(AWS rejected the credentials; refresh them: set up "
                                           r"credentials with `aws configure`"):
            aws.identity()
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"  # conftest's: the stub answered, nothing left the machine


def test_a_deploy_on_a_terminal_ends_in_the_dashboard_and_q_quits(machine):  # noqa: F811
    import pty
    import select
    import time

    env = machine()
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(BIN / "aws-research-wizard"), "deploy", "--domain", "genomics"], stdin=slave,
                            stdout=slave, stderr=slave, env={**env, "COLUMNS": "120", "LINES": "40", "TERM": "xterm"},
                            close_fds=True)
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 90
        while b"Cost so far" not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        assert b"Deployment complete" in seen and b"Cost so far" in seen, seen[-2000:]
        os.write(master, b"q")
        assert proc.wait(timeout=30) == 0
        with contextlib.suppress(OSError):
            while select.select([master], [], [], 0.5)[0]:
                chunk = os.read(master, 65536)
                if not chunk:
                    break
                seen += chunk
        assert b"Monitor closed; the session goes on" in seen
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    (session,) = sessions(env)
    assert session["status"] == "running"
    ok(env, "sessions", "destroy", session["id"])


def test_mine_lists_only_sessions_launched_by_the_identity_in_use(machine):  # noqa: F811
    env = machine()
    mine = json.loads(ok(env, "deploy", "--domain", "genomics", "--detach", "--json"))
    store = Path(env["ARW_HOME"]) / "sessions"
    record = next(store.glob(f"session-{mine['id']}.*"))
    colleague = json.loads(ok(env, "deploy", "--domain", "genomics", "--size", "small", "--detach", "--json"))
    other = next(store.glob(f"session-{colleague['id']}.*"))
    other.write_text(other.read_text().replace(MOTO_CALLER, "arn:aws:sts::123456789012:assumed-role/Lab/colleague"))
    assert record.exists()
    listed = {row["id"]: row for row in sessions(env)}
    assert listed[colleague["id"]]["launched_by"].endswith("/colleague")
    only_mine = json.loads(ok(env, "sessions", "list", "--mine", "--json"))
    assert [row["id"] for row in only_mine] == [mine["id"]]
    assert "colleague" in ok(env, "sessions", "list")
    for session in (mine, colleague):
        ok(env, "sessions", "destroy", session["id"])


def test_sessions_on_aws_never_follow_an_endpoint_left_in_the_environment(monkeypatch):
    """`sandbox env` exports AWS_ENDPOINT_URL; a session that lives on AWS must still reach AWS."""
    from registry_tools.aws.adapter import Clients
    from registry_tools.aws.interface import Target

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert Clients(Target("us-west-2"))("sts").meta.endpoint_url == "https://sts.us-west-2.amazonaws.com"
    assert Clients(Target("us-west-2", endpoint_url="http://127.0.0.1:8"))("sts").meta.endpoint_url == "http://127.0.0.1:8"


def test_a_session_keeps_the_credential_chain_it_was_deployed_with(monkeypatch):
    """AWS_PROFILE is recorded but left to boto3's own chain (where environment keys come first, as in the
    AWS CLI); a recorded profile is named explicitly only when this shell does not select it already."""
    from registry_tools.cli.sessions_cmd import session_target, target_for
    from registry_tools.sessions.model import Session

    session = Session(id="ses_genomics_20261101_1200", domain="genomics", pack_version="1.2.0", pack_sha256="ab" * 32,
                      title="Genomics", stack_name="arw-x", region="us-west-2", account="123456789012", size="standard",
                      instance_type="r7i.4xlarge", launch_time="2026-11-01T12:00:00Z",
                      last_accessed="2026-11-01T12:00:00Z", profile="lab")
    monkeypatch.setenv("AWS_PROFILE", "lab")
    assert target_for("us-east-1", False).profile is None
    assert session_target(session).profile is None  # the default chain, which reads AWS_PROFILE=lab itself
    assert session_target(session, "other").profile == "other"
    monkeypatch.delenv("AWS_PROFILE")
    assert session_target(session).profile == "lab"


def test_principals_ignore_the_session_names_botocore_makes_up():
    from registry_tools.cli.fast_sessions import identity, principal

    generated = "arn:aws:sts::123456789012:assumed-role/Lab/botocore-session-1767225600"
    assert identity(generated) == "arn:aws:sts::123456789012:assumed-role/Lab" and principal(generated) == "Lab"
    sso = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_1/alice@example.org"
    assert identity(sso) == sso and principal(sso) == "alice@example.org"
    assert principal(None) == "-"


@pytest.mark.parametrize(("env", "message"), [
    ({"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": None}, "Partial credentials found in env"),
    ({"AWS_PROFILE": "nope"}, "the AWS profile 'nope' is not configured on this machine: create it with "
                              "`aws configure --profile nope`"),
])
def test_broken_credentials_are_one_clear_error_not_a_traceback(machine, env, message):  # noqa: F811
    base = machine("broken-credentials")
    (Path(base["ARW_HOME"]) / "sandbox.json").unlink()
    shell = {**base, "ARW_SANDBOX": "", "AWS_ENDPOINT_URL": machine.endpoint}
    for key, value in env.items():
        if value is None:
            shell.pop(key, None)
        else:
            shell[key] = value
    for command in (["sessions", "list", "--mine"], ["deploy", "--domain", "genomics"]):
        result = arw(shell, *command)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert message in result.stderr, result.stderr


def test_credentials_of_another_account_never_finish_a_session(machine, tmp_path):  # noqa: F811
    """Seen with another account's credentials every stack is "gone": the session must be shown as
    unreachable, not recorded completed or failed."""
    env = machine("other-account")
    session = json.loads(ok(env, "deploy", "--domain", "genomics", "--json"))
    record = next((Path(env["ARW_HOME"]) / "sessions").glob(f"session-{session['id']}.*"))
    record.write_text(record.read_text().replace('"account": "123456789012"', '"account": "210987654321"'))
    cfn = boto3.client("cloudformation", endpoint_url=machine.endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    cfn.delete_stack(StackName=session["stack_name"])
    resumed = arw(env, "sessions", "resume", session["id"], "--json")
    assert resumed.returncode == 1 and "Traceback" not in resumed.stderr
    assert ("lives in AWS account 210987654321, but the credentials in use are for account 123456789012"
            in resumed.stderr)
    assert json.loads(ok(env, "sessions", "show", session["id"], "--json"))["status"] == "running"
