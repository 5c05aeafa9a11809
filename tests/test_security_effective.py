"""registry_tools.security: the rules judge the effective configuration (issue 15).

For each protected setting, one test per place a template can set or override it: a minimal
template that hides the weakening there produces the finding, the same place with the safe value
does not. Through the pure API (what the client runs without cfn-lint), plus a few through
`registry validate` (file:line) and the check that validation leaves nothing in the temp directory.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from registry_tools.security import RULES, SecurityFinding, check_template

from .conftest import ARW, REFERENCE_PACK, all_version_dirs, version_id
from .test_security_rules import minimal

LT = "AWS::EC2::LaunchTemplate"
AMI = "ami-0abcdef1234567890"
WORLD_SSH = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}


# --------------------------------------------------------------------------- building blocks


def res(t) -> dict:
    return t["Resources"]


def props(t, name) -> dict:
    return t["Resources"][name]["Properties"]


def condition(t) -> str:
    t.setdefault("Conditions", {})["Maybe"] = {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    return "Maybe"


def parameter(t, name, **definition) -> dict:
    t["Parameters"][name] = {"Type": "String", **definition}
    return {"Ref": name}


def launch_template(t, name, tokens="required", encrypted=True, **data) -> dict:
    res(t)[name] = {"Type": LT, "Properties": {"LaunchTemplateData": {
        "MetadataOptions": {"HttpTokens": tokens},
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 30, "Encrypted": encrypted}}],
        **data}}}
    return {"LaunchTemplateId": {"Ref": name}, "Version": {"Fn::GetAtt": [name, "LatestVersionNumber"]}}


def auto_scaling_group(t, **properties) -> None:
    res(t)["Group2"] = {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
        "MinSize": "0", "MaxSize": "1", "AvailabilityZones": {"Fn::GetAZs": ""}, **properties}}


def launch_configuration(t, tokens="required", encrypted=True, **extra) -> None:
    res(t)["Config"] = {"Type": "AWS::AutoScaling::LaunchConfiguration", "Properties": {
        "ImageId": {"Ref": "ImageId"}, "InstanceType": "m7i.large",
        "MetadataOptions": {"HttpTokens": tokens},
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 30, "Encrypted": encrypted}}],
        **extra}}
    auto_scaling_group(t, LaunchConfigurationName={"Ref": "Config"})


def ec2_fleet(t, spec, override=None) -> None:
    config = {"LaunchTemplateSpecification": spec}
    if override is not None:
        config["Overrides"] = [{"InstanceType": "m7i.large"}, override]
    res(t)["Fleet"] = {"Type": "AWS::EC2::EC2Fleet", "Properties": {
        "LaunchTemplateConfigs": [config],
        "TargetCapacitySpecification": {"TotalTargetCapacity": 1, "DefaultTargetCapacityType": "on-demand"}}}


def spot_fleet(t, **config) -> None:
    res(t)["Spot"] = {"Type": "AWS::EC2::SpotFleet", "Properties": {"SpotFleetRequestConfigData": {
        "IamFleetRole": "arn:aws:iam::123456789012:role/fleet", "TargetCapacity": 1, **config}}}


def spot_specification(encrypted=True, image=None) -> dict:
    return {"ImageId": image or {"Ref": "ImageId"}, "InstanceType": "m7i.large",
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 30, "Encrypted": encrypted}}]}


def ingress(t, rule) -> None:
    props(t, "Group")["SecurityGroupIngress"].append(rule)


def statement(t, stmt) -> None:
    props(t, "Role")["Policies"][0]["PolicyDocument"]["Statement"].append(stmt)


def bucket_policy(t, *statements, as_text=False) -> None:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    res(t)["BucketPolicy"] = {"Type": "AWS::S3::BucketPolicy", "Properties": {
        "Bucket": {"Ref": "Bucket"}, "PolicyDocument": json.dumps(document) if as_text else document}}


def public_read(principal="*", **extra) -> dict:
    return {"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject",
            "Resource": {"Fn::Sub": "${Bucket.Arn}/*"}, **extra}


def managed_arn(t, arn) -> None:
    props(t, "Role")["ManagedPolicyArns"] = [arn]


def policy_resource(t, kind, stmt) -> None:
    attach = {"RoleName": {"Ref": "Role"}} if kind == "AWS::IAM::RolePolicy" else {"Roles": [{"Ref": "Role"}]}
    name = {"PolicyName": "extra"} if kind != "AWS::IAM::ManagedPolicy" else {}
    res(t)["Extra"] = {"Type": kind, "Properties": {
        **name, **attach, "PolicyDocument": {"Version": "2012-10-17", "Statement": [stmt]}}}


ADMIN = {"Effect": "Allow", "Action": "*", "Resource": "*"}
NARROW = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Sub": "${Bucket.Arn}/*"}}
BLOCK = {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
SSE = {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


# --------------------------------------------------------------------------- the places


@dataclass(frozen=True)
class Place:
    """Where a protected setting can be set: ``weak`` hides a weakening there, ``safe`` sets the
    same place to a safe value; ``mentions``: text the finding must contain (how it was resolved)."""

    rule: str
    weak: Callable[[dict], None]
    safe: Callable[[dict], None]
    conservative: bool = False
    mentions: tuple[str, ...] = ()


PLACES: dict[str, Place] = {}


def place(name: str, rule: str, weak, safe, *, conservative: bool = False, mentions: tuple[str, ...] = ()) -> None:
    assert name not in PLACES, name
    PLACES[f"{rule}-{name}"] = Place(rule, weak, safe, conservative, mentions)


# -- E9101: SSH/RDP from the world; W9114: other inbound from public addresses

def _prefix_list(t, cidr):
    res(t)["Ranges"] = {"Type": "AWS::EC2::PrefixList", "Properties": {
        "AddressFamily": "IPv4", "MaxEntries": 2, "PrefixListName": "ranges", "Entries": [{"Cidr": cidr}]}}
    ingress(t, {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "SourcePrefixListId": {"Ref": "Ranges"}})


def _separate_ingress(t, source):
    res(t)["Open"] = {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
        "GroupId": {"Fn::GetAtt": ["Group", "GroupId"]}, "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, **source}}


def _mapped_cidr(t, cidr):
    t["Mappings"] = {"Net": {"us-east-1": {"Admin": cidr}}}
    ingress(t, {**WORLD_SSH, "CidrIp": {"Fn::FindInMap": ["Net", {"Ref": "AWS::Region"}, "Admin"]}})


place("inline-ipv4", "E9101", lambda t: ingress(t, WORLD_SSH), lambda t: ingress(t, {**WORLD_SSH, "CidrIp": "10.0.0.0/8"}))
place("inline-ipv6", "E9101", lambda t: ingress(t, {**{k: v for k, v in WORLD_SSH.items() if k != "CidrIp"}, "CidrIpv6": "::/0"}),
      lambda t: ingress(t, {**{k: v for k, v in WORLD_SSH.items() if k != "CidrIp"}, "CidrIpv6": "fd00::/8"}))
place("ipv6-spelled-otherwise", "E9101", lambda t: ingress(t, {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv6": "0::0/0"}),
      lambda t: ingress(t, {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv6": "fd00::/16"}))
place("separate-ingress-resource", "E9101", lambda t: _separate_ingress(t, {"CidrIp": "0.0.0.0/0"}),
      lambda t: _separate_ingress(t, {"SourceSecurityGroupId": {"Ref": "Group"}}), mentions=("rule Open",))
place("all-protocols", "E9101", lambda t: ingress(t, {"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"}),
      lambda t: ingress(t, {"IpProtocol": "-1", "SourceSecurityGroupId": {"Ref": "Group"}}), mentions=("all traffic",))
place("protocol-number", "E9101", lambda t: ingress(t, {**WORLD_SSH, "IpProtocol": "6"}),
      lambda t: ingress(t, {**WORLD_SSH, "IpProtocol": "6", "CidrIp": "172.16.0.0/12"}))
place("port-range", "E9101", lambda t: ingress(t, {**WORLD_SSH, "FromPort": 0, "ToPort": 1024}),
      lambda t: ingress(t, {**WORLD_SSH, "FromPort": 0, "ToPort": 1024, "CidrIp": "192.168.0.0/16"}))
place("rdp-over-udp", "E9101", lambda t: ingress(t, {**WORLD_SSH, "IpProtocol": "udp", "FromPort": 3389, "ToPort": 3389}),
      lambda t: ingress(t, {**WORLD_SSH, "IpProtocol": "udp", "FromPort": 3389, "ToPort": 3389, "CidrIp": "10.0.0.0/8"}),
      mentions=("RDP (udp 3389)",))
place("prefix-list", "E9101", lambda t: _prefix_list(t, "0.0.0.0/0"), lambda t: _prefix_list(t, "10.0.0.0/8"),
      mentions=("prefix list Ranges",))
place("fn-if-branch", "E9101", lambda t: ingress(t, {**WORLD_SSH, "CidrIp": {"Fn::If": [condition(t), "10.0.0.0/8", "0.0.0.0/0"]}}),
      lambda t: ingress(t, {**WORLD_SSH, "CidrIp": {"Fn::If": [condition(t), "10.0.0.0/8", "10.1.0.0/16"]}}))
place("whole-rule-in-fn-if", "E9101",
      lambda t: ingress(t, {"Fn::If": [condition(t), WORLD_SSH, {"Ref": "AWS::NoValue"}]}),
      lambda t: ingress(t, {"Fn::If": [condition(t), {**WORLD_SSH, "CidrIp": "10.0.0.0/8"}, {"Ref": "AWS::NoValue"}]}))
place("parameter-allowed-values", "E9101",
      lambda t: ingress(t, {**WORLD_SSH, "CidrIp": parameter(t, "Admin", AllowedValues=["10.0.0.0/8", "0.0.0.0/0"])}),
      lambda t: ingress(t, {**WORLD_SSH, "CidrIp": parameter(t, "Admin", AllowedValues=["10.0.0.0/8"])}),
      mentions=("allowed by parameter Admin",))
place("parameter-chosen-at-deploy", "E9101",
      lambda t: ingress(t, {**WORLD_SSH, "CidrIp": parameter(t, "Admin", Default="10.0.0.0/8")}),
      lambda t: ingress(t, {**WORLD_SSH, "CidrIp": parameter(t, "Admin", Default="10.0.0.0/8", AllowedValues=["10.0.0.0/8"])}),
      conservative=True, mentions=("parameter Admin",))
place("mapping", "E9101", lambda t: _mapped_cidr(t, "0.0.0.0/0"), lambda t: _mapped_cidr(t, "10.0.0.0/8"))
place("ranges-that-add-up", "E9101",
      lambda t: [ingress(t, {**WORLD_SSH, "CidrIp": c}) for c in ("0.0.0.0/1", "128.0.0.0/1")],
      lambda t: [ingress(t, {**WORLD_SSH, "CidrIp": c}) for c in ("10.0.0.0/9", "10.128.0.0/9")],
      mentions=("add up to 0.0.0.0/0",))
place("ports-from-parameter", "E9101",
      lambda t: ingress(t, {**WORLD_SSH, "FromPort": parameter(t, "Port", Default=443), "ToPort": {"Ref": "Port"}}),
      lambda t: ingress(t, {**WORLD_SSH, "CidrIp": "10.0.0.0/8", "FromPort": parameter(t, "Port", Default=443),
                            "ToPort": {"Ref": "Port"}}), conservative=True)

place("https-from-the-world", "W9114", lambda t: ingress(t, {**WORLD_SSH, "FromPort": 443, "ToPort": 443}),
      lambda t: ingress(t, {**WORLD_SSH, "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/8"}), mentions=("HTTPS (tcp 443)",))
place("ssh-from-a-public-address", "W9114", lambda t: ingress(t, {**WORLD_SSH, "CidrIp": "52.94.76.10/32"}),
      lambda t: ingress(t, {**WORLD_SSH, "CidrIp": "10.1.2.3/32"}))
place("prefix-list-defined-elsewhere", "W9114",
      lambda t: ingress(t, {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "SourcePrefixListId": "pl-0123456789abcdef0"}),
      lambda t: ingress(t, {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "SourceSecurityGroupId": {"Ref": "Group"}}),
      conservative=True, mentions=("cannot be checked",))


# -- E9102: IMDSv2

def _lt_data(t, name="Template") -> dict:
    return props(t, name)["LaunchTemplateData"]


def _instance_options(value):
    def edit(t):
        props(t, "Instance")["MetadataOptions"] = value(t) if callable(value) else value
    return edit


def _no_template(options):
    def edit(t):
        del props(t, "Instance")["LaunchTemplate"]
        props(t, "Instance")["BlockDeviceMappings"] = [{"DeviceName": "/dev/xvda", "Ebs": {"Encrypted": True}}]
        if options is not None:
            props(t, "Instance")["MetadataOptions"] = options
    return edit


def _instance_template(spec):
    def edit(t):
        props(t, "Instance")["LaunchTemplate"] = spec(t)
    return edit


def _named_template(tokens):
    def edit(t):
        launch_template(t, "Named", tokens, LaunchTemplateName="arw-named")
        res(t)["Named"]["Properties"]["LaunchTemplateName"] = "arw-named"
        del res(t)["Named"]["Properties"]["LaunchTemplateData"]["LaunchTemplateName"]
        props(t, "Instance")["LaunchTemplate"] = {"LaunchTemplateName": "arw-named", "Version": "$Latest"}
    return edit


def _mixed(base_tokens, override_tokens):
    def edit(t):
        base = launch_template(t, "Base", base_tokens)
        other = launch_template(t, "Other", override_tokens)
        auto_scaling_group(t, MixedInstancesPolicy={"LaunchTemplate": {
            "LaunchTemplateSpecification": base,
            "Overrides": [{"InstanceType": "m7i.large"}, {"InstanceType": "m7g.large", "LaunchTemplateSpecification": other}]}})
    return edit


place("launch-template", "E9102", lambda t: _lt_data(t)["MetadataOptions"].update(HttpTokens="optional"),
      lambda t: _lt_data(t)["MetadataOptions"].update(HttpTokens="required"), mentions=("instance Instance",))
place("launch-template-unset", "E9102", lambda t: _lt_data(t)["MetadataOptions"].update({"HttpTokens": {"Ref": "AWS::NoValue"}, "HttpPutResponseHopLimit": 2}),
      lambda t: _lt_data(t)["MetadataOptions"].update(HttpPutResponseHopLimit=2), mentions=("not set",))
place("launch-template-without-options", "E9102", lambda t: _lt_data(t).pop("MetadataOptions"),
      lambda t: _lt_data(t).update(MetadataOptions={"HttpEndpoint": "enabled", "HttpTokens": "required"}))
place("instance-overrides-launch-template", "E9102", _instance_options({"HttpTokens": "optional"}),
      _instance_options({"HttpTokens": "required", "HttpPutResponseHopLimit": 2}),
      mentions=("takes precedence over launch template Template",))
place("instance-options-in-fn-if", "E9102",
      _instance_options(lambda t: {"Fn::If": [condition(t), {"HttpTokens": "optional"}, {"Ref": "AWS::NoValue"}]}),
      _instance_options(lambda t: {"Fn::If": [condition(t), {"HttpTokens": "required"}, {"Ref": "AWS::NoValue"}]}))
place("instance-without-launch-template", "E9102", _no_template(None), _no_template({"HttpTokens": "required"}))
place("instance-without-launch-template-options-unset", "E9102", _no_template({"HttpPutResponseHopLimit": 2}),
      _no_template({"HttpPutResponseHopLimit": 2, "HttpTokens": "required"}))
place("launch-template-defined-elsewhere", "E9102",
      _instance_template(lambda t: {"LaunchTemplateId": "lt-0123456789abcdef0", "Version": "$Default"}),
      lambda t: (_instance_template(lambda t: {"LaunchTemplateId": "lt-0123456789abcdef0", "Version": "$Default"})(t),
                 _instance_options({"HttpTokens": "required"})(t)),
      conservative=True, mentions=("lt-0123456789abcdef0",))
place("launch-template-by-name", "E9102", _named_template("optional"), _named_template("required"),
      mentions=("instance Instance",))
place("launch-template-version-default", "E9102",
      lambda t: (_lt_data(t)["MetadataOptions"].update(HttpTokens="optional"),
                 props(t, "Instance")["LaunchTemplate"].update(Version="$Default")),
      lambda t: props(t, "Instance")["LaunchTemplate"].update(Version="$Default"), mentions=("instance Instance",))
place("parameter-allowed-values", "E9102",
      lambda t: _lt_data(t)["MetadataOptions"].update(HttpTokens=parameter(t, "Tokens", AllowedValues=["required", "optional"])),
      lambda t: _lt_data(t)["MetadataOptions"].update(HttpTokens=parameter(t, "Tokens", AllowedValues=["required"])))
place("parameter-chosen-at-deploy", "E9102",
      lambda t: _lt_data(t)["MetadataOptions"].update(HttpTokens=parameter(t, "Tokens", Default="required")),
      lambda t: _lt_data(t)["MetadataOptions"].update(HttpTokens=parameter(t, "Tokens", Default="required", AllowedValues=["required"])),
      conservative=True, mentions=("parameter Tokens",))
place("launch-configuration", "E9102", lambda t: launch_configuration(t, "optional"), lambda t: launch_configuration(t, "required"),
      mentions=("Auto Scaling group Group2",))
place("launch-configuration-unset", "E9102",
      lambda t: (launch_configuration(t), props(t, "Config").pop("MetadataOptions")),
      lambda t: launch_configuration(t))
place("launch-configuration-defined-elsewhere", "E9102",
      lambda t: auto_scaling_group(t, LaunchConfigurationName="legacy-config"),
      lambda t: auto_scaling_group(t, LaunchTemplate=launch_template(t, "Asg")), conservative=True, mentions=("legacy-config",))
place("auto-scaling-launch-template", "E9102",
      lambda t: auto_scaling_group(t, LaunchTemplate=launch_template(t, "Asg", "optional")),
      lambda t: auto_scaling_group(t, LaunchTemplate=launch_template(t, "Asg")), mentions=("Auto Scaling group Group2",))
place("mixed-instances-launch-template", "E9102", _mixed("optional", "required"), _mixed("required", "required"),
      mentions=("Auto Scaling group Group2",))
place("mixed-instances-override-launch-template", "E9102", _mixed("required", "optional"), _mixed("required", "required"),
      mentions=("mixed-instances override 2",))
place("ec2-fleet-launch-template", "E9102", lambda t: ec2_fleet(t, launch_template(t, "FleetLt", "optional")),
      lambda t: ec2_fleet(t, launch_template(t, "FleetLt")), mentions=("EC2 Fleet Fleet",))
place("ec2-fleet-override", "E9102",
      lambda t: ec2_fleet(t, launch_template(t, "FleetLt"), {"InstanceType": "m7g.large", "MetadataOptions": {"HttpTokens": "optional"}}),
      lambda t: ec2_fleet(t, launch_template(t, "FleetLt"), {"InstanceType": "m7g.large", "MetadataOptions": {"HttpTokens": "required"}}),
      mentions=("override 2",))
place("spot-fleet-launch-specification", "E9102",
      lambda t: spot_fleet(t, LaunchSpecifications=[spot_specification()]),
      lambda t: spot_fleet(t, LaunchTemplateConfigs=[{"LaunchTemplateSpecification": launch_template(t, "SpotLt")}]),
      mentions=("cannot set metadata options",))
place("spot-fleet-launch-template", "E9102",
      lambda t: spot_fleet(t, LaunchTemplateConfigs=[{"LaunchTemplateSpecification": launch_template(t, "SpotLt", "optional")}]),
      lambda t: spot_fleet(t, LaunchTemplateConfigs=[{"LaunchTemplateSpecification": launch_template(t, "SpotLt")}]),
      mentions=("Spot Fleet Spot",))


# -- E9103: EBS encryption

def _volume(value):
    def edit(t):
        if value is None:
            props(t, "Data").pop("Encrypted")
        else:
            props(t, "Data")["Encrypted"] = value(t) if callable(value) else value
    return edit


def _lt_encrypted(value):
    def edit(t):
        ebs = _lt_data(t)["BlockDeviceMappings"][0]["Ebs"]
        if value is None:
            ebs.pop("Encrypted")
        else:
            ebs["Encrypted"] = value(t) if callable(value) else value
    return edit


def _instance_device(encrypted):
    def edit(t):
        props(t, "Instance")["BlockDeviceMappings"] = [{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 20, "Encrypted": encrypted}}]
    return edit


def _root_from_ami(mappings):
    def edit(t):
        del props(t, "Instance")["LaunchTemplate"]
        props(t, "Instance")["MetadataOptions"] = {"HttpTokens": "required"}
        if mappings:
            props(t, "Instance")["BlockDeviceMappings"] = mappings
    return edit


place("volume", "E9103", _volume(False), _volume(True))
place("volume-unset", "E9103", _volume(None), _volume("true"), mentions=("EBS encryption by default",))
place("volume-in-fn-if", "E9103", _volume(lambda t: {"Fn::If": [condition(t), True, {"Ref": "AWS::NoValue"}]}),
      _volume(lambda t: {"Fn::If": [condition(t), True, "true"]}))
place("instance-mapping", "E9103", _instance_device(False), _instance_device(True), mentions=("/dev/sdf",))
place("launch-template-mapping", "E9103", _lt_encrypted(False), _lt_encrypted(True))
place("launch-template-mapping-unset", "E9103", _lt_encrypted(None), _lt_encrypted(True), mentions=("does not set Encrypted",))
place("launch-template-mapping-in-fn-if", "E9103", _lt_encrypted(lambda t: {"Fn::If": [condition(t), True, False]}),
      _lt_encrypted(lambda t: {"Fn::If": [condition(t), True, True]}))
place("parameter-chosen-at-deploy", "E9103", _lt_encrypted(lambda t: parameter(t, "Encrypt", Default="true")),
      _lt_encrypted(lambda t: parameter(t, "Encrypt", Default="true", AllowedValues=["true"])), conservative=True)
place("launch-configuration-mapping", "E9103", lambda t: launch_configuration(t, encrypted=False),
      lambda t: launch_configuration(t, encrypted=True), mentions=("launch configuration Config",))
place("ec2-fleet-override-mapping", "E9103",
      lambda t: ec2_fleet(t, launch_template(t, "FleetLt"), {"BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"Encrypted": False}}]}),
      lambda t: ec2_fleet(t, launch_template(t, "FleetLt"), {"BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"Encrypted": True}}]}),
      mentions=("EC2 Fleet Fleet override 2",))
place("spot-fleet-specification-mapping", "E9103", lambda t: spot_fleet(t, LaunchSpecifications=[spot_specification(False)]),
      lambda t: spot_fleet(t, LaunchSpecifications=[spot_specification(True)]))
place("root-volume-from-the-ami", "E9103", _root_from_ami(None),
      _root_from_ami([{"DeviceName": "/dev/xvda", "Ebs": {"Encrypted": True}}]), mentions=("AMI's snapshot",))
place("root-volume-not-among-the-mappings", "E9103", _root_from_ami([{"DeviceName": "/dev/sdf", "Ebs": {"Encrypted": True}}]),
      _root_from_ami([{"DeviceName": "/dev/sda1", "Ebs": {"Encrypted": True}}]))
place("root-volume-from-a-template-defined-elsewhere", "E9103",
      _instance_template(lambda t: {"LaunchTemplateName": "shared-template", "Version": "3"}),
      lambda t: (_instance_template(lambda t: {"LaunchTemplateName": "shared-template", "Version": "3"})(t),
                 props(t, "Instance").update(BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"Encrypted": True}}])),
      conservative=True, mentions=("shared-template",))


# -- E9104: bucket encryption

def _bucket(**changes):
    def edit(t):
        for key, value in changes.items():
            if value is None:
                props(t, "Bucket").pop(key, None)
            else:
                props(t, "Bucket")[key] = value(t) if callable(value) else value
    return edit


def _algorithm(value):
    return _bucket(BucketEncryption=lambda t: {"ServerSideEncryptionConfiguration": [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": value(t) if callable(value) else value}}]})


place("missing", "E9104", _bucket(BucketEncryption=None), _bucket(BucketEncryption=SSE), mentions=("SSE-S3",))
place("fn-if-no-value", "E9104", _bucket(BucketEncryption=lambda t: {"Fn::If": [condition(t), SSE, {"Ref": "AWS::NoValue"}]}),
      _bucket(BucketEncryption=lambda t: {"Fn::If": [condition(t), SSE, {"ServerSideEncryptionConfiguration": [
          {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]}]}))
place("no-rules", "E9104", _bucket(BucketEncryption={"ServerSideEncryptionConfiguration": []}), _bucket(BucketEncryption=SSE))
place("rule-without-default", "E9104",
      _bucket(BucketEncryption={"ServerSideEncryptionConfiguration": [{"BucketKeyEnabled": True}]}),
      _bucket(BucketEncryption={"ServerSideEncryptionConfiguration": [
          {"BucketKeyEnabled": True, "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]}))
place("algorithm-chosen-at-deploy", "E9104", _algorithm(lambda t: parameter(t, "Sse", Default="AES256")),
      _algorithm(lambda t: parameter(t, "Sse", AllowedValues=["AES256", "aws:kms"])), conservative=True)


# -- E9105: public access block

def _block(**settings):
    def edit(t):
        block = dict(BLOCK)
        for key, value in settings.items():
            if value is None:
                block.pop(key)
            else:
                block[key] = value(t) if callable(value) else value
        props(t, "Bucket")["PublicAccessBlockConfiguration"] = block
    return edit


place("missing", "E9105", _bucket(PublicAccessBlockConfiguration=None), _block(), mentions=("no PublicAccessBlockConfiguration",))
place("one-false", "E9105", _block(RestrictPublicBuckets=False), _block(RestrictPublicBuckets=True))
place("one-unset", "E9105", _block(IgnorePublicAcls=None), _block(IgnorePublicAcls="true"), mentions=("IgnorePublicAcls is not set",))
place("string-false", "E9105", _block(BlockPublicAcls="false"), _block(BlockPublicAcls="true"))
place("fn-if-branch", "E9105", _block(BlockPublicPolicy=lambda t: {"Fn::If": [condition(t), True, False]}),
      _block(BlockPublicPolicy=lambda t: {"Fn::If": [condition(t), True, "true"]}))
place("whole-configuration-in-fn-if", "E9105",
      _bucket(PublicAccessBlockConfiguration=lambda t: {"Fn::If": [condition(t), BLOCK, {"Ref": "AWS::NoValue"}]}),
      _bucket(PublicAccessBlockConfiguration=lambda t: {"Fn::If": [condition(t), BLOCK, dict(BLOCK)]}))
place("parameter-chosen-at-deploy", "E9105", _block(BlockPublicPolicy=lambda t: parameter(t, "Block", Default="true")),
      _block(BlockPublicPolicy=lambda t: parameter(t, "Block", AllowedValues=["true"])), conservative=True)


# -- E9109: bucket policy; E9110: ACL; W9111: ownership

place("principal-star", "E9109", lambda t: bucket_policy(t, public_read()),
      lambda t: bucket_policy(t, public_read(Condition={"StringEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}})))
place("principal-aws-star", "E9109", lambda t: bucket_policy(t, public_read({"AWS": "*"})),
      lambda t: bucket_policy(t, public_read({"AWS": {"Fn::GetAtt": ["Role", "Arn"]}})))
place("principal-any-account", "E9109", lambda t: bucket_policy(t, public_read({"AWS": ["arn:aws:iam::*:root"]})),
      lambda t: bucket_policy(t, public_read({"AWS": ["arn:aws:iam::111122223333:root"]})))
place("not-principal", "E9109", lambda t: bucket_policy(t, {**public_read(), "Principal": None, "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}}),
      lambda t: bucket_policy(t, {**public_read(), "Effect": "Deny", "Principal": None, "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}}))
place("policy-as-json-text", "E9109", lambda t: bucket_policy(t, public_read(), as_text=True),
      lambda t: bucket_policy(t, public_read(Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}), as_text=True))
place("statement-in-fn-if", "E9109",
      lambda t: bucket_policy(t, {"Fn::If": [condition(t), public_read(), {"Ref": "AWS::NoValue"}]}),
      lambda t: bucket_policy(t, {"Fn::If": [condition(t), public_read({"AWS": "arn:aws:iam::111122223333:root"}), {"Ref": "AWS::NoValue"}]}))
place("condition-with-a-wildcard", "E9109",
      lambda t: bucket_policy(t, public_read(Condition={"StringLike": {"aws:SourceVpce": "vpce-*"}})),
      lambda t: bucket_policy(t, public_read(Condition={"StringEquals": {"aws:SourceVpce": ["vpce-0123", "vpce-4567"]}})))

place("public-read", "E9110", _bucket(AccessControl="PublicRead"), _bucket(AccessControl="Private"))
place("public-read-write", "E9110", _bucket(AccessControl="PublicReadWrite"), _bucket(AccessControl="BucketOwnerFullControl"))
place("authenticated-read", "E9110", _bucket(AccessControl="AuthenticatedRead"), _bucket(AccessControl="LogDeliveryWrite"))
place("acl-in-fn-if", "E9110", _bucket(AccessControl=lambda t: {"Fn::If": [condition(t), "Private", "PublicRead"]}),
      _bucket(AccessControl=lambda t: {"Fn::If": [condition(t), "Private", {"Ref": "AWS::NoValue"}]}))

place("object-writer", "W9111", _bucket(OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}),
      _bucket(OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}))
place("bucket-owner-preferred", "W9111", _bucket(OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}),
      _bucket(OwnershipControls=None))


# -- E9106 / E9112 / W9107: identity policies; E9113: trust

def _document_text(stmt):
    def edit(t):
        props(t, "Role")["Policies"][0]["PolicyDocument"] = json.dumps({"Version": "2012-10-17", "Statement": [stmt]})
    return edit


def _single_statement(stmt):
    def edit(t):
        props(t, "Role")["Policies"][0]["PolicyDocument"]["Statement"] = stmt
    return edit


def _user_policy(stmt):
    def edit(t):
        res(t)["Person"] = {"Type": "AWS::IAM::User", "Properties": {"Policies": [
            {"PolicyName": "mine", "PolicyDocument": {"Version": "2012-10-17", "Statement": [stmt]}}]}}
    return edit


def _trust(principal, **extra):
    def edit(t):
        props(t, "Role")["AssumeRolePolicyDocument"]["Statement"] = [
            {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra}]
    return edit


def _customer_policy(t):
    policy_resource(t, "AWS::IAM::ManagedPolicy", NARROW)
    del res(t)["Extra"]["Properties"]["Roles"]
    managed_arn(t, {"Ref": "Extra"})


place("inline-star", "E9106", lambda t: statement(t, ADMIN), lambda t: statement(t, NARROW))
place("star-colon-star", "E9106", lambda t: statement(t, {**ADMIN, "Action": ["s3:GetObject", "*:*"]}), lambda t: statement(t, {**ADMIN, "Action": ["s3:GetObject"]}))
place("not-action", "E9106", lambda t: statement(t, {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
      lambda t: statement(t, {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}), mentions=("NotAction iam:*",))
place("not-resource", "E9106", lambda t: statement(t, {"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::secrets/*"}),
      lambda t: statement(t, {"Effect": "Allow", "Action": "*", "Resource": {"Fn::GetAtt": ["Bucket", "Arn"]}}))
place("resource-arn-pattern", "E9106", lambda t: statement(t, {**ADMIN, "Resource": "arn:aws:*:*:*:*"}),
      lambda t: statement(t, {**ADMIN, "Resource": {"Fn::Sub": "${Bucket.Arn}/*"}}))
place("iam-star", "E9106", lambda t: statement(t, {**ADMIN, "Action": "iam:*"}), lambda t: statement(t, {**ADMIN, "Action": "iam:GetRole"}),
      mentions=("grant itself",))
place("policy-resource", "E9106", lambda t: policy_resource(t, "AWS::IAM::Policy", ADMIN), lambda t: policy_resource(t, "AWS::IAM::Policy", NARROW),
      mentions=("attached to Role",))
place("managed-policy-resource", "E9106", lambda t: policy_resource(t, "AWS::IAM::ManagedPolicy", ADMIN),
      lambda t: policy_resource(t, "AWS::IAM::ManagedPolicy", NARROW))
place("role-policy-resource", "E9106", lambda t: policy_resource(t, "AWS::IAM::RolePolicy", ADMIN),
      lambda t: policy_resource(t, "AWS::IAM::RolePolicy", NARROW))
place("user-inline-policy", "E9106", _user_policy(ADMIN), _user_policy(NARROW))
place("document-as-json-text", "E9106", _document_text(ADMIN), _document_text(NARROW))
place("statement-as-an-object", "E9106", _single_statement(ADMIN), _single_statement(NARROW))
place("statement-in-fn-if", "E9106", lambda t: statement(t, {"Fn::If": [condition(t), ADMIN, {"Ref": "AWS::NoValue"}]}),
      lambda t: statement(t, {"Fn::If": [condition(t), NARROW, {"Ref": "AWS::NoValue"}]}))
place("action-chosen-at-deploy", "E9106", lambda t: statement(t, {**ADMIN, "Action": parameter(t, "Do", Default="s3:GetObject")}),
      lambda t: statement(t, {**ADMIN, "Action": parameter(t, "Do", AllowedValues=["s3:GetObject"])}), conservative=True)
place("managed-administrator-access", "E9106",
      lambda t: managed_arn(t, {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess"}),
      lambda t: managed_arn(t, {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"}),
      mentions=("AdministratorAccess",))
place("managed-iam-full-access", "E9106", lambda t: managed_arn(t, "arn:aws:iam::aws:policy/IAMFullAccess"),
      lambda t: managed_arn(t, "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"))
place("managed-policy-defined-elsewhere", "E9106", lambda t: managed_arn(t, "arn:aws:iam::123456789012:policy/team-policy"),
      _customer_policy, conservative=True)
place("managed-policy-chosen-at-deploy", "E9106", lambda t: managed_arn(t, parameter(t, "Extra", Default="x")),
      lambda t: managed_arn(t, parameter(t, "Extra", AllowedValues=["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"])),
      conservative=True)

place("service-star", "E9112", lambda t: statement(t, {**ADMIN, "Action": "s3:*"}),
      lambda t: statement(t, {**ADMIN, "Action": "s3:*", "Resource": [{"Fn::GetAtt": ["Bucket", "Arn"]}, {"Fn::Sub": "${Bucket.Arn}/*"}]}))
place("service-star-on-every-bucket", "E9112", lambda t: statement(t, {**ADMIN, "Action": "S3:*", "Resource": "arn:aws:s3:::*"}),
      lambda t: statement(t, {**ADMIN, "Action": "S3:*", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/*"}}))
place("managed-full-access", "E9112", lambda t: managed_arn(t, "arn:aws:iam::aws:policy/AmazonS3FullAccess"),
      lambda t: managed_arn(t, "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"))
place("managed-power-user", "E9112", lambda t: managed_arn(t, {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/PowerUserAccess"}),
      lambda t: managed_arn(t, {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/CloudWatchAgentServerPolicy"}))

place("service-star-on-its-own-bucket", "W9115",
      lambda t: statement(t, {**ADMIN, "Action": "s3:*", "Resource": {"Fn::Sub": "${Bucket.Arn}/*"}}),
      lambda t: statement(t, {**ADMIN, "Action": ["s3:GetObject", "s3:PutObject"], "Resource": {"Fn::Sub": "${Bucket.Arn}/*"}}),
      mentions=("whole services (s3:*)",))
place("every-action-on-its-own-bucket", "W9115", lambda t: statement(t, {**ADMIN, "Resource": {"Fn::GetAtt": ["Bucket", "Arn"]}}),
      lambda t: statement(t, {**ADMIN, "Action": "s3:ListBucket", "Resource": {"Fn::GetAtt": ["Bucket", "Arn"]}}))
place("action-on-every-resource", "W9115", lambda t: statement(t, {**ADMIN, "Action": "ec2:StopInstances"}),
      lambda t: statement(t, {**ADMIN, "Action": "ec2:StopInstances", "Resource": {
          "Fn::Sub": "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/${Instance}"}}),
      mentions=("resources outside this stack",))
place("every-bucket", "W9115", lambda t: statement(t, {**ADMIN, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/*"}),
      lambda t: statement(t, {**ADMIN, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::open-data/*"}))
place("bucket-chosen-at-deploy", "W9115",
      lambda t: statement(t, {**ADMIN, "Action": "s3:PutObject", "Resource": {
          "Fn::Sub": ["arn:aws:s3:::${B}/*", {"B": parameter(t, "Target")}]}}),
      lambda t: statement(t, {**ADMIN, "Action": "s3:PutObject", "Resource": {
          "Fn::Sub": ["arn:aws:s3:::${B}/*", {"B": parameter(t, "Target", AllowedValues=["open-data"])}]}}),
      conservative=True)

place("pass-role-on-star", "W9107", lambda t: statement(t, {**ADMIN, "Action": "iam:PassRole"}),
      lambda t: statement(t, {**ADMIN, "Action": "iam:PassRole", "Resource": {"Fn::GetAtt": ["Role", "Arn"]}}))
place("pass-role-pattern", "W9107", lambda t: statement(t, {**ADMIN, "Action": ["ec2:RunInstances", "iam:Pass*"]}),
      lambda t: statement(t, {**ADMIN, "Action": ["ec2:RunInstances", "iam:Get*"]}))
place("pass-role-on-every-role-arn", "W9107",
      lambda t: statement(t, {**ADMIN, "Action": "iam:PassRole",
                              "Resource": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"}}),
      lambda t: statement(t, {**ADMIN, "Action": "iam:PassRole",
                              "Resource": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${Role}"}}))

place("trust-star", "E9113", _trust("*"), _trust({"Service": "ec2.amazonaws.com"}))
place("trust-aws-star", "E9113", _trust({"AWS": "*"}), _trust({"AWS": "*"}, Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}))


# -- E9108: fixed AMI ids

def _image(where):
    def edit(t, value):
        if where == "instance":
            props(t, "Instance")["ImageId"] = value
        elif where == "launch-template":
            _lt_data(t)["ImageId"] = value
        elif where == "launch-configuration":
            launch_configuration(t, ImageId=value)
        elif where == "spot-fleet":
            spot_fleet(t, LaunchSpecifications=[spot_specification(image=value)])
        elif where == "mixed-instances-override":
            auto_scaling_group(t, MixedInstancesPolicy={"LaunchTemplate": {
                "LaunchTemplateSpecification": launch_template(t, "Asg"),
                "Overrides": [{"InstanceType": "m7i.large", "ImageId": value}]}})
    return lambda t: edit(t, AMI), lambda t: edit(t, {"Ref": "ImageId"})


for _where in ("instance", "launch-template", "launch-configuration", "spot-fleet", "mixed-instances-override"):
    place(_where, "E9108", *_image(_where), mentions=(AMI,))
# -- E9108: every ImageId from an AWS public SSM parameter

SSM_IMAGE = "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
PUBLIC_IMAGE = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
place("image-from-a-plain-parameter", "E9108",
      lambda t: props(t, "Instance").update(ImageId=parameter(t, "Image", Type="AWS::EC2::Image::Id")),
      lambda t: props(t, "Instance").update(ImageId=parameter(t, "Image", Type=SSM_IMAGE, Default=PUBLIC_IMAGE)),
      mentions=("parameter Image", "not an AWS public SSM parameter"))
place("image-from-a-private-ssm-parameter", "E9108",
      lambda t: _lt_data(t).update(ImageId=parameter(t, "Image", Type=SSM_IMAGE, Default="/team/images/latest")),
      lambda t: _lt_data(t).update(ImageId=parameter(t, "Image", Type=SSM_IMAGE, Default=PUBLIC_IMAGE)),
      mentions=("/team/images/latest", "launch template Template"))
place("image-from-a-dynamic-reference", "E9108",
      lambda t: launch_configuration(t, ImageId="{{resolve:ssm:/team/images/latest}}"),
      lambda t: launch_configuration(t, ImageId="{{resolve:ssm:" + PUBLIC_IMAGE + "}}"))
place("image-in-an-fn-if-branch", "E9108",
      lambda t: props(t, "Instance").update(ImageId={"Fn::If": [condition(t), {"Ref": "ImageId"}, {"Fn::ImportValue": "ami"}]}),
      lambda t: props(t, "Instance").update(ImageId={"Fn::If": [condition(t), {"Ref": "ImageId"}, {"Ref": "AWS::NoValue"}]}),
      mentions=("Fn::ImportValue",))
place("parameter-default", "E9108", lambda t: t["Parameters"]["ImageId"].update(Type="AWS::EC2::Image::Id", Default=AMI),
      lambda t: None, mentions=("parameter ImageId defaults",))
place("parameter-allowed-values", "E9108", lambda t: parameter(t, "Image", Type="AWS::EC2::Image::Id", AllowedValues=[AMI]),
      lambda t: parameter(t, "Image", Type="AWS::EC2::Image::Id"))
place("mapping", "E9108", lambda t: t.update(Mappings={"Images": {"us-east-1": {"Ami": AMI}}}),
      lambda t: t.update(Mappings={"Images": {"us-east-1": {"Size": "large"}}}))
place("fn-if-branch", "E9108", lambda t: props(t, "Instance").update(ImageId={"Fn::If": [condition(t), {"Ref": "ImageId"}, AMI]}),
      lambda t: props(t, "Instance").update(ImageId={"Fn::If": [condition(t), {"Ref": "ImageId"}, {"Ref": "AWS::NoValue"}]}))


# --------------------------------------------------------------------------- the tests


def _built(edit) -> dict:
    template = minimal()
    edit(template)
    return template


def _resolves(template, path) -> bool:
    node = template
    for part in path:
        if isinstance(node, str):
            return True  # inside a policy given as JSON text
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    return True


def test_the_minimal_template_is_clean():
    assert check_template(minimal()) == []


@pytest.mark.parametrize("name", sorted(PLACES))
def test_each_place_a_setting_can_hide(name):
    case = PLACES[name]
    weak = _built(case.weak)
    found = [f for f in check_template(weak) if f.rule == case.rule]
    assert found, f"{name}: the weakening was not found"
    for finding in found:
        assert finding.severity == RULES[case.rule].severity and finding.fix and finding.message and finding.resource
        assert _resolves(weak, finding.path), (finding.path, finding.message)
    assert any(f.conservative for f in found) == case.conservative, [str(f) for f in found]
    for text in case.mentions:
        assert any(text in f.message for f in found), (text, [f.message for f in found])
    safe = _built(case.safe)
    assert [str(f) for f in check_template(safe) if f.rule == case.rule] == []


def test_every_rule_has_places():
    assert {case.rule for case in PLACES.values()} == set(RULES)


def test_the_issue_mutation_instance_metadata_overrides_the_launch_template():
    template = json.loads((REFERENCE_PACK / "cloudformation.json").read_text())
    assert check_template(template) == []
    template["Resources"]["Instance"]["Properties"]["MetadataOptions"] = {"HttpTokens": "optional"}
    [finding] = check_template(template)
    assert (finding.rule, finding.severity, finding.resource) == ("E9102", "error", "Instance")
    assert finding.path == ("Resources", "Instance", "Properties", "MetadataOptions", "HttpTokens")
    assert "takes precedence over launch template LaunchTemplate" in finding.message
    assert "HttpTokens to required" in finding.fix


def test_metadata_endpoint_turned_off_needs_no_tokens():
    template = minimal()
    props(template, "Template")["LaunchTemplateData"]["MetadataOptions"] = {"HttpEndpoint": "disabled"}
    assert [f for f in check_template(template) if f.rule == "E9102"] == []


def test_a_safe_instance_override_does_not_excuse_its_launch_template():
    """The launch template stays a finding: anything else can launch from it."""
    template = minimal()
    props(template, "Template")["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] = "optional"
    props(template, "Instance")["MetadataOptions"] = {"HttpTokens": "required"}
    [finding] = [f for f in check_template(template) if f.rule == "E9102"]
    assert finding.resource == "Template" and "instance Instance" not in finding.message


def test_one_finding_per_hiding_place_even_when_several_instances_use_it():
    template = minimal()
    props(template, "Template")["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] = "optional"
    res(template)["Second"] = copy.deepcopy(res(template)["Instance"])
    [finding] = [f for f in check_template(template) if f.rule == "E9102"]
    assert "instance Instance" in finding.message and "instance Second" in finding.message


def test_every_pack_template_is_clean():
    for version_dir in all_version_dirs():
        template = json.loads((version_dir / "cloudformation.json").read_text())
        assert check_template(template) == [], version_id(version_dir)


def test_the_rules_are_pure_and_leave_the_template_alone():
    template = _built(PLACES["E9102-instance-overrides-launch-template"].weak)
    before = copy.deepcopy(template)
    first = check_template(template)
    assert template == before and check_template(template) == first
    assert isinstance(first[0], SecurityFinding) and first[0].to_dict()["path"] == list(first[0].path)
    code = ("import sys, registry_tools.security as s; s.check_template({'Resources': {}}); "
            "bad = [m for m in ('cfnlint', 'boto3', 'httpx', 'yaml') if m in sys.modules]; "
            "sys.exit(f'imported {bad}' if bad else 0)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


def test_garbage_templates_give_findings_or_nothing_never_an_exception():
    for template in ({}, {"Resources": None}, {"Resources": {"X": {"Type": "AWS::EC2::Instance", "Properties": []}}},
                     {"Resources": {"X": {"Type": "AWS::EC2::Instance", "Properties": {"LaunchTemplate": "lt"}}}},
                     {"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketEncryption": {"Fn::If": []}}}}},
                     {"Resources": {"G": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"SecurityGroupIngress": [
                         {"IpProtocol": "tcp", "FromPort": "x", "ToPort": 22, "CidrIp": "not-a-cidr"}]}}}},
                     {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [
                         {"PolicyDocument": "{not json"}]}}}}):
        assert all(isinstance(f, SecurityFinding) for f in check_template(template))


def test_the_cfn_lint_adapter_has_one_rule_per_id():
    from cfnlint.helpers import load_plugins

    from registry_tools.validation.cfn import SECURITY_RULES_DIR

    rules = {rule.id: rule for rule in load_plugins(str(SECURITY_RULES_DIR))}
    assert set(rules) == set(RULES)
    for rule_id, rule in rules.items():
        assert rule.shortdesc == RULES[rule_id].title and rule_id[0] == RULES[rule_id].severity[0].upper()


# --------------------------------------------------------------------------- through `registry validate`


def _validate(pack_dir: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ARW_HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return subprocess.run([str(ARW), "registry", "validate", "--no-cache", "--format", "json", *extra, str(pack_dir)],
                          capture_output=True, text=True, timeout=300, env=env)


def _rewrite(pack_dir: Path, edit) -> list[str]:
    path = pack_dir / "cloudformation.json"
    template = json.loads(path.read_text())
    edit(template)
    text = json.dumps(template, indent=2) + "\n"
    path.write_text(text)
    return text.splitlines()


@pytest.mark.slow
def test_validate_reports_hidden_weakenings_with_their_lines(pack_copy, tmp_path):
    def edit(template):
        template["Resources"]["Instance"]["Properties"]["MetadataOptions"] = {"HttpTokens": "optional"}
        template["Resources"]["ResultsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"].append(
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
             "Resource": {"Fn::Sub": "${ResultsBucket.Arn}/*"}})
        template["Resources"]["Ranges"] = {"Type": "AWS::EC2::PrefixList", "Properties": {
            "AddressFamily": "IPv4", "MaxEntries": 1, "PrefixListName": "everyone", "Entries": [{"Cidr": "0.0.0.0/0"}]}}
        template["Resources"]["InstanceSecurityGroup"]["Properties"]["SecurityGroupIngress"] = [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "SourcePrefixListId": {"Ref": "Ranges"}}]

    lines = _rewrite(pack_copy, edit)
    run = _validate(pack_copy, tmp_path)
    assert run.returncode == 1, run.stderr
    found = {f["rule"]: f for f in json.loads(run.stdout)["findings"] if f["rule"].startswith(("E91", "W91"))}
    assert set(found) == {"E9101", "E9102", "E9109"}, found
    for rule, text in (("E9102", '"HttpTokens": "optional"'), ("E9101", '"IpProtocol": "tcp"'),
                       ("E9109", '"Effect": "Allow"')):
        finding = found[rule]
        assert finding["file"].endswith("cloudformation.json") and finding["line"], finding
        near = "\n".join(lines[finding["line"] - 1:finding["line"] + 2])
        assert text in near, (rule, finding["line"], near)
    assert "prefix list Ranges" in found["E9101"]["message"] and "fix:" in found["E9101"]["message"]
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.slow
def test_validate_leaves_nothing_in_the_temp_directory(tmp_path):
    """Issue 15: every run used to leave a tmp*.cfnlintrc behind (worker processes included)."""
    packs = all_version_dirs()[:5]
    env = {**os.environ, "ARW_HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    code = "import tempfile, sys; print(tempfile.gettempdir())"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout.strip() == str(tmp_path / "tmp")
    for jobs in ("1", "2"):
        run = subprocess.run([str(ARW), "registry", "validate", "--no-cache", "--jobs", jobs, *map(str, packs)],
                             capture_output=True, text=True, timeout=600, env=env)
        assert run.returncode == 0, run.stdout + run.stderr
        assert list((tmp_path / "tmp").iterdir()) == []
