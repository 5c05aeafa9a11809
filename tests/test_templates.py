"""Every pack template is secure by default (checked structurally on the JSON)."""

from __future__ import annotations

import json
import re

import pytest

from registry_tools.packs.loader import load_pack

from .conftest import all_version_dirs, version_id

VERSION_DIRS = all_version_dirs()
WORLD = {"0.0.0.0/0", "::/0"}


def _resources(template, kind):
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def check_all(version_dir):
    """Every security and completeness invariant for one pack version (also used on new/bumped packs)."""
    pack = load_pack(version_dir)
    template = json.loads((version_dir / "cloudformation.json").read_text())
    for check in CHECKS:
        check(pack, template)


def check_no_inbound_from_the_world(pack, template):
    for group in _resources(template, "AWS::EC2::SecurityGroup").values():
        for rule in group["Properties"].get("SecurityGroupIngress", []):
            assert rule.get("CidrIp") not in WORLD and rule.get("CidrIpv6") not in WORLD, rule
    assert not _resources(template, "AWS::EC2::SecurityGroupIngress") or all(
        r["Properties"].get("CidrIp") not in WORLD for r in _resources(template, "AWS::EC2::SecurityGroupIngress").values()
    )


def check_imdsv2_and_encrypted_volumes(pack, template):
    launch_templates = _resources(template, "AWS::EC2::LaunchTemplate")
    assert launch_templates
    for lt in launch_templates.values():
        data = lt["Properties"]["LaunchTemplateData"]
        assert data["MetadataOptions"]["HttpTokens"] == "required"
        for mapping in data.get("BlockDeviceMappings", []):
            assert mapping["Ebs"]["Encrypted"] is True
    for instance in _resources(template, "AWS::EC2::Instance").values():
        assert "LaunchTemplate" in instance["Properties"], "instances must use the IMDSv2 launch template"
        for mapping in instance["Properties"].get("BlockDeviceMappings", []):
            assert mapping["Ebs"]["Encrypted"] is True
    for volume in _resources(template, "AWS::EC2::Volume").values():
        assert volume["Properties"]["Encrypted"] is True


def check_results_bucket_is_encrypted_and_private(pack, template):
    buckets = _resources(template, "AWS::S3::Bucket")
    assert buckets
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert all(props["PublicAccessBlockConfiguration"][k] is True for k in
                   ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"))


def check_instance_role_is_least_privilege(pack, template):
    for role in _resources(template, "AWS::IAM::Role").values():
        managed = json.dumps(role["Properties"].get("ManagedPolicyArns", []))
        assert "AdministratorAccess" not in managed and "AmazonS3FullAccess" not in managed
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert "*" not in actions and not any(a.endswith(":*") for a in actions), statement
                assert statement["Resource"] != "*", statement


def check_images_come_from_public_ssm_parameters(pack, template):
    text = json.dumps(template)
    assert not re.search(r"\bami-[0-9a-f]{8,17}\b", text), "hard-coded AMI id"
    ami_params = [p for p in template["Parameters"].values() if p["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"]
    assert ami_params and all(p["Default"].startswith("/aws/service/") for p in ami_params)


def check_instance_type_parameter_and_outputs(pack, template):
    allowed = template["Parameters"]["InstanceType"]["AllowedValues"]
    assert {s.instance_type for s in pack.sizes} <= set(allowed)
    assert template["Parameters"]["InstanceType"]["Default"] == pack.default.instance_type
    for output in ("InstanceId", "BucketName", "ConnectCommand"):
        assert output in template["Outputs"]
    assert "ssm start-session" in json.dumps(template["Outputs"]["ConnectCommand"])


def check_user_data_configures_memory_metrics_and_installs_software(pack, template):
    text = json.dumps(template)
    assert "mem_used_percent" in text and '\\"namespace\\": \\"CWAgent\\"' in text
    assert "InstanceId" in text and "amazon-cloudwatch-agent-ctl" in text
    software = pack.software
    named = [p.split("=")[0].split("@")[0] for p in software.get("conda", {}).get("packages", [])]
    named += [s.split("@")[0] for s in software.get("spack", {}).get("specs", [])]
    named += [re.split(r"[=<>~!\[]", p)[0] for p in software.get("pip", [])]
    assert named, "the pack declares no conda or spack software"
    missing = [n for n in named if n not in text]
    assert not missing, f"software declared in domain.yaml but not installed by the template: {missing}"


CHECKS = [check_no_inbound_from_the_world, check_imdsv2_and_encrypted_volumes, check_results_bucket_is_encrypted_and_private, check_instance_role_is_least_privilege, check_images_come_from_public_ssm_parameters, check_instance_type_parameter_and_outputs, check_user_data_configures_memory_metrics_and_installs_software]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
@pytest.mark.parametrize("version_dir", VERSION_DIRS, ids=version_id)
def test_template(version_dir, check):
    pack = load_pack(version_dir)
    check(pack, json.loads((version_dir / "cloudformation.json").read_text()))
