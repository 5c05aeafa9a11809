"""The security policy of install and deploy: a signed pack whose template fails the security rules
is refused at install (a registry re-signed by the trusted key serves it) and at deploy (a copy
installed earlier, before the policy), unless the rule is allowed with --allow-insecure, which is
recorded in the receipt and the session and warned about every time."""

from __future__ import annotations

import json

import pytest

from registry_tools.client import policy

from .test_build import small_repo  # noqa: F401  (fixture)
from .test_client_index import CountingServer, served, signed_dist  # noqa: F401  (fixtures)
from .test_hostile_registry import PREFIX, file_member, lab, republish, run, tar_gz  # noqa: F401  (fixture)
from .test_sessions_cli import arw, machine, ok, sessions  # noqa: F401  (fixture)

SSH_FROM_THE_WORLD = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}


def open_ssh(template: dict) -> None:
    template["Resources"]["InstanceSecurityGroup"]["Properties"]["SecurityGroupIngress"] = [SSH_FROM_THE_WORLD]


def test_the_policy_refuses_errors_names_the_fix_and_lets_allowed_rules_past():
    template = {"Resources": {"SG": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
        "GroupDescription": "x", "SecurityGroupIngress": [SSH_FROM_THE_WORLD]}}}}
    verdict = policy.judge(template)
    assert [f.rule for f in verdict.refused] == ["E9101"] and verdict.refused[0].resource == "SG"
    with pytest.raises(policy.InsecurePack) as refused:
        policy.enforce(verdict, "lab 1.0.0", "deploy")
    text = str(refused.value)
    assert "lab 1.0.0: refusing to deploy" in text and "[E9101] SG:" in text and "fix:" in text
    assert text.endswith("deploy with --allow-insecure E9101")
    allowed = policy.judge(template, ["E9101"])
    assert not allowed.refused and allowed.allowed_rules == ("E9101",)
    policy.enforce(allowed, "lab 1.0.0", "deploy")
    assert policy.warnings_of(allowed, "lab") == [f"lab: allowed by --allow-insecure E9101: {allowed.allowed[0]}"]
    assert policy.known_rules([" e9101", "E9101"]) == ("E9101",)
    with pytest.raises(ValueError, match="E0000 is not a security rule"):
        policy.known_rules(["E0000"])


def test_a_signed_insecure_pack_is_refused_at_install_unless_allowed(lab, served):  # noqa: F811
    www, key, home = lab
    source = served[0] / "domains" / "genomics" / "v1.2.0"
    files = {p.name: p.read_bytes() for p in source.iterdir()}
    template = json.loads(files["cloudformation.json"])
    open_ssh(template)
    files["cloudformation.json"] = json.dumps(template, indent=2).encode()
    republish(www, key, tar_gz([file_member(f"{PREFIX}/{n}", d) for n, d in files.items()]))

    refused = run("config", "install", "genomics@1.2.0", "--refresh")
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "genomics 1.2.0: refusing to install: its template fails the security rules" in refused.output
    assert "[E9101] InstanceSecurityGroup" in refused.output and "--allow-insecure E9101" in refused.output
    assert not (home / "domains" / "genomics" / "1.2.0").exists()

    bad_rule = run("config", "install", "genomics@1.2.0", "--allow-insecure", "E0000")
    assert bad_rule.exit_code == 2 and "E0000 is not a security rule" in bad_rule.output

    allowed = run("config", "install", "genomics@1.2.0", "--allow-insecure", "e9101", "--json")
    assert allowed.exit_code == 0, allowed.output
    assert "warning: genomics 1.2.0: allowed by --allow-insecure E9101" in allowed.stderr
    receipt = json.loads(allowed.stdout)
    assert receipt["allowed_insecure"] == ["E9101"]
    validated = json.loads(run("config", "validate", "genomics@1.2.0", "--no-lint", "--json").output)
    security = next(c for c in validated["checks"] if c["check"] == "security")
    assert security["ok"] and "allowed by --allow-insecure: E9101" in security["detail"]
    info = json.loads(run("config", "info", "genomics@1.2.0", "--json").output)
    assert "allowed by --allow-insecure: E9101" in info["security"]
    clean = json.loads(run("config", "info", "genomics@1.1.0", "--json").output)["security"]
    assert clean.startswith("no findings")


def test_a_pack_installed_earlier_is_judged_again_at_deploy(machine):  # noqa: F811
    env = machine("insecure", template_change=open_ssh)  # installed before the policy existed
    refused = arw(env, "deploy", "--domain", "genomics")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "genomics@1.2.0: refusing to deploy" in refused.stderr and "--allow-insecure E9101" in refused.stderr
    assert sessions(env, "--all") == []
    plan = json.loads(ok(env, "deploy", "--domain", "genomics", "--dry-run", "--json"))
    assert [f["rule"] for f in plan["security"]["refused"]] == ["E9101"]
    assert "a deploy would be refused" in ok(env, "deploy", "--domain", "genomics", "--dry-run")
    allowed = arw(env, "deploy", "--domain", "genomics", "--allow-insecure", "E9101", "--json")
    assert allowed.returncode == 0, allowed.stderr
    assert "warning: genomics@1.2.0: allowed by --allow-insecure E9101" in allowed.stderr
    session = json.loads(allowed.stdout)
    assert session["allowed_insecure"] == ["E9101"]
    ok(env, "sessions", "destroy", session["id"])
