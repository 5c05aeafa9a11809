"""Our cfn-lint security rules (E91xx/W91xx, adapters over ``registry_tools.security``): each
fires on a minimal bad template, stays silent once it is fixed, and cannot be silenced by the
template. ``test_security_effective`` tests every place each setting can hide, through the pure API."""

from __future__ import annotations

import copy
import json

import pytest

from registry_tools.validation.cfn import CfnLinter


def minimal() -> dict:
    """A small template that meets every rule."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            "ImageId": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
                        "Default": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"},
        },
        "Resources": {
            "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
                "GroupDescription": "no inbound", "SecurityGroupIngress": [
                    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/16"}]}},
            "Template": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": {
                "MetadataOptions": {"HttpTokens": "required"},
                "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 50, "Encrypted": True}}]}}},
            "Instance": {"Type": "AWS::EC2::Instance", "Properties": {
                "ImageId": {"Ref": "ImageId"}, "InstanceType": "m7i.large",
                "SecurityGroupIds": [{"Fn::GetAtt": ["Group", "GroupId"]}],
                "LaunchTemplate": {"LaunchTemplateId": {"Ref": "Template"},
                                   "Version": {"Fn::GetAtt": ["Template", "LatestVersionNumber"]}}}},
            "Data": {"Type": "AWS::EC2::Volume", "Properties": {
                "AvailabilityZone": {"Fn::GetAtt": ["Instance", "AvailabilityZone"]}, "Size": 10, "Encrypted": True}},
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {
                "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
                "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                   "IgnorePublicAcls": True, "RestrictPublicBuckets": True}}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
                "Policies": [{"PolicyName": "results", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": {"Fn::Sub": "${Bucket.Arn}/*"}}]}}]}},
        },
    }


def _ssh(t):
    t["Resources"]["Group"]["Properties"]["SecurityGroupIngress"].append(
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"})


def _rdp_v6_range(t):
    t["Resources"]["Open"] = {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
        "GroupId": {"Fn::GetAtt": ["Group", "GroupId"]}, "IpProtocol": "tcp", "FromPort": 3000, "ToPort": 4000, "CidrIpv6": "::/0"}}


def _all_traffic(t):
    t["Resources"]["Group"]["Properties"]["SecurityGroupIngress"].append({"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"})


def _imds_optional(t):
    t["Resources"]["Template"]["Properties"]["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] = "optional"


def _instance_without_template(t):
    del t["Resources"]["Instance"]["Properties"]["LaunchTemplate"]


def _unencrypted_volume(t):
    t["Resources"]["Data"]["Properties"]["Encrypted"] = False


def _unencrypted_block_device(t):
    t["Resources"]["Template"]["Properties"]["LaunchTemplateData"]["BlockDeviceMappings"][0]["Ebs"].pop("Encrypted")


def _unencrypted_instance_device(t):
    t["Resources"]["Instance"]["Properties"]["BlockDeviceMappings"] = [{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 20}}]


def _bucket_unencrypted(t):
    del t["Resources"]["Bucket"]["Properties"]["BucketEncryption"]


def _bucket_public(t):
    t["Resources"]["Bucket"]["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] = False


def _admin_policy(t):
    t["Resources"]["Role"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "*", "Resource": "*"})


def _passrole(t):
    t["Resources"]["Role"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": "*"})


def _fixed_ami(t):
    t["Resources"]["Instance"]["Properties"]["ImageId"] = "ami-0abcdef1234567890"


def _fixed_ami_parameter(t):
    t["Parameters"]["ImageId"] = {"Type": "AWS::EC2::Image::Id", "Default": "ami-0abcdef1234567890"}


def _instance_metadata_optional(t):
    t["Resources"]["Instance"]["Properties"]["MetadataOptions"] = {"HttpTokens": "optional"}


def _bucket_policy_public(t):
    t["Resources"]["Policy"] = {"Type": "AWS::S3::BucketPolicy", "Properties": {
        "Bucket": {"Ref": "Bucket"}, "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": {"Fn::Sub": "${Bucket.Arn}/*"}}]}}}


def _bucket_acl_public(t):
    t["Resources"]["Bucket"]["Properties"]["AccessControl"] = "PublicRead"


def _acls_enabled(t):
    t["Resources"]["Bucket"]["Properties"]["OwnershipControls"] = {"Rules": [{"ObjectOwnership": "ObjectWriter"}]}


def _service_wide(t):
    t["Resources"]["Role"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})


def _trust_anyone(t):
    t["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] = {"AWS": "*"}


def _https_from_world(t):
    t["Resources"]["Group"]["Properties"]["SecurityGroupIngress"].append(
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIpv6": "::/0"})


def _image_from_a_plain_parameter(t):
    t["Parameters"]["ImageId"] = {"Type": "AWS::EC2::Image::Id"}


def _service_star_on_its_bucket(t):
    t["Resources"]["Role"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]["Action"] = ["s3:*"]


def _action_on_every_resource(t):
    t["Resources"]["Role"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"] = "*"


CASES = {
    "ssh-open": ("E9101", _ssh),
    "rdp-range-ipv6": ("E9101", _rdp_v6_range),
    "all-traffic": ("E9101", _all_traffic),
    "imds-optional": ("E9102", _imds_optional),
    "instance-without-launch-template": ("E9102", _instance_without_template),
    "unencrypted-volume": ("E9103", _unencrypted_volume),
    "unencrypted-launch-template-device": ("E9103", _unencrypted_block_device),
    "unencrypted-instance-device": ("E9103", _unencrypted_instance_device),
    "bucket-unencrypted": ("E9104", _bucket_unencrypted),
    "bucket-public": ("E9105", _bucket_public),
    "admin-policy": ("E9106", _admin_policy),
    "passrole-any": ("W9107", _passrole),
    "fixed-ami": ("E9108", _fixed_ami),
    "fixed-ami-parameter": ("E9108", _fixed_ami_parameter),
    "imds-optional-on-the-instance": ("E9102", _instance_metadata_optional),
    "bucket-policy-public": ("E9109", _bucket_policy_public),
    "bucket-acl-public": ("E9110", _bucket_acl_public),
    "acls-enabled": ("W9111", _acls_enabled),
    "service-wide-wildcard": ("E9112", _service_wide),
    "trust-anyone": ("E9113", _trust_anyone),
    "https-from-the-world": ("W9114", _https_from_world),
    "image-from-a-plain-parameter": ("E9108", _image_from_a_plain_parameter),
    "service-star-on-its-own-bucket": ("W9115", _service_star_on_its_bucket),
    "action-on-every-resource": ("W9115", _action_on_every_resource),
}


@pytest.fixture(scope="module")
def linter():
    linter = CfnLinter()
    yield linter
    linter.close()


def rules_fired(linter, template) -> set[str]:
    findings = linter.lint(json.dumps(template, indent=2), ["us-east-1"], pack="t", version="0.0.0", file="t.json")
    return {f.rule for f in findings}


def test_minimal_template_is_clean(linter):
    assert not {r for r in rules_fired(linter, minimal()) if r.startswith(("E91", "W91"))}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_fires_and_cannot_be_silenced(linter, case):
    rule, breaks = CASES[case]
    template = minimal()
    breaks(template)
    assert rule in rules_fired(linter, template)
    silenced = copy.deepcopy(template)
    silenced["Metadata"] = {"cfn-lint": {"config": {"ignore_checks": [rule, "E", "W"]}}}
    for resource in silenced["Resources"].values():
        resource["Metadata"] = {"cfn-lint": {"config": {"ignore_checks": [rule]}}}
    assert rule in rules_fired(linter, silenced)


@pytest.mark.parametrize(("case", "near_line"), [
    ("ssh-open", '"FromPort": 22'),
    ("image-from-a-plain-parameter", '"ImageId": {'),
    ("service-star-on-its-own-bucket", '"s3:*"'),
    ("action-on-every-resource", '"Resource": "*"'),
])
def test_findings_carry_lines(linter, case, near_line):
    rule, breaks = CASES[case]
    template = minimal()
    breaks(template)
    text = json.dumps(template, indent=2)
    findings = [f for f in linter.lint(text, ["us-east-1"], pack="t", version="0", file="t.json") if f.rule == rule]
    assert findings and findings[0].line
    near = "\n".join(text.splitlines()[findings[0].line - 1:findings[0].line + 6])  # the rule, or the statement holding it
    assert near_line in near, near


def test_the_empty_config_ships_in_the_package():
    """cfn-lint reads this explicit, empty config instead of any .cfnlintrc (and no temp file is written)."""
    from registry_tools.validation.cfn import EMPTY_CONFIG

    assert EMPTY_CONFIG.is_file() and json.loads(EMPTY_CONFIG.read_text()) == {}
    assert EMPTY_CONFIG.parent.name == "data"  # shipped by the package data pattern data/*.json
