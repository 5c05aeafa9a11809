"""Our own cfn-lint rules: the security baseline every pack template must meet.

Loaded into cfn-lint's rule set with ``append_rules`` (this directory). Ids
live in the E91xx/W91xx range so they never collide with cfn-lint's own rules
or with rules-file custom rules (E/W 9000 + line). Each rule reports the
resource path so cfn-lint can attach a line number.
"""

from __future__ import annotations

import re
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

WORLD_V4 = "0.0.0.0/0"
WORLD_V6 = "::/0"
ADMIN_PORTS = {22: "SSH", 3389: "RDP"}
AMI_ID = re.compile(r"^ami-[0-9a-f]{8,17}$")
INTRINSIC = ("Ref", "Fn::GetAtt", "Fn::Sub", "Fn::If", "Fn::FindInMap", "Fn::ImportValue", "Fn::Select", "Fn::Join")


def _resources(cfn, *types: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in cfn.get_resources(list(types)).items() if isinstance(res, dict)}


def _props(resource: dict[str, Any]) -> dict[str, Any]:
    props = resource.get("Properties", {})
    return props if isinstance(props, dict) else {}


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _port(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _opens_admin_port(rule: dict[str, Any]) -> list[str]:
    if rule.get("CidrIp") != WORLD_V4 and rule.get("CidrIpv6") != WORLD_V6:
        return []
    protocol = str(rule.get("IpProtocol", "")).lower()
    if protocol in ("-1", "all"):
        return list(ADMIN_PORTS.values())
    if protocol not in ("tcp", "6"):
        return []
    low, high = _port(rule.get("FromPort")), _port(rule.get("ToPort"))
    if low is None or high is None:
        return []
    if low == -1:
        return list(ADMIN_PORTS.values())
    return [name for port, name in ADMIN_PORTS.items() if low <= port <= high]


class AdminPortsOpenToWorld(CloudFormationLintRule):
    id = "E9101"
    shortdesc = "SSH or RDP open to the internet"
    description = "Security groups must not allow SSH (22) or RDP (3389) from 0.0.0.0/0 or ::/0; use SSM Session Manager."
    tags = ["security", "ec2", "arw"]

    def match(self, cfn):
        matches = []
        for name, res in _resources(cfn, "AWS::EC2::SecurityGroup").items():
            ingress = _props(res).get("SecurityGroupIngress", [])
            for i, rule in enumerate(ingress if isinstance(ingress, list) else []):
                if isinstance(rule, dict):
                    for service in _opens_admin_port(rule):
                        matches.append(RuleMatch(["Resources", name, "Properties", "SecurityGroupIngress", i],
                                                 f"{service} is open to the internet in {name}; remove it and connect with SSM Session Manager"))
        for name, res in _resources(cfn, "AWS::EC2::SecurityGroupIngress").items():
            for service in _opens_admin_port(_props(res)):
                matches.append(RuleMatch(["Resources", name, "Properties"],
                                         f"{service} is open to the internet in {name}; remove it and connect with SSM Session Manager"))
        return matches


class Imdsv2Required(CloudFormationLintRule):
    id = "E9102"
    shortdesc = "IMDSv2 not required"
    description = "Launch templates must set MetadataOptions.HttpTokens to required; instances must use such a launch template."
    tags = ["security", "ec2", "arw"]

    def match(self, cfn):
        matches = []
        launch_templates = _resources(cfn, "AWS::EC2::LaunchTemplate")
        secure = set()
        for name, res in launch_templates.items():
            data = _props(res).get("LaunchTemplateData", {})
            options = data.get("MetadataOptions", {}) if isinstance(data, dict) else {}
            if isinstance(options, dict) and options.get("HttpTokens") == "required":
                secure.add(name)
            else:
                matches.append(RuleMatch(["Resources", name, "Properties", "LaunchTemplateData"],
                                         f"{name} does not require IMDSv2: set MetadataOptions.HttpTokens to required"))
        for name, res in _resources(cfn, "AWS::EC2::Instance").items():
            spec = _props(res).get("LaunchTemplate")
            target = None
            if isinstance(spec, dict):
                ref = spec.get("LaunchTemplateId") or spec.get("LaunchTemplateName")
                if isinstance(ref, dict):
                    target = ref.get("Ref") or (ref.get("Fn::GetAtt") or [None])[0]
            if target not in secure:
                matches.append(RuleMatch(["Resources", name, "Properties"],
                                         f"{name} does not use a launch template that requires IMDSv2 (HttpTokens: required)"))
        return matches


def _block_device_matches(mappings: Any, path: list) -> list[RuleMatch]:
    out = []
    for i, mapping in enumerate(mappings if isinstance(mappings, list) else []):
        if not isinstance(mapping, dict) or "Ebs" not in mapping:
            continue
        ebs = mapping["Ebs"]
        if not isinstance(ebs, dict) or not _is_true(ebs.get("Encrypted")):
            out.append(RuleMatch([*path, i, "Ebs"], f"block device {mapping.get('DeviceName', i)} is not encrypted: set Ebs.Encrypted to true"))
    return out


class EncryptedEbs(CloudFormationLintRule):
    id = "E9103"
    shortdesc = "Unencrypted EBS storage"
    description = "EBS volumes and block device mappings must be encrypted."
    tags = ["security", "ec2", "ebs", "arw"]

    def match(self, cfn):
        matches = []
        for name, res in _resources(cfn, "AWS::EC2::Volume").items():
            if not _is_true(_props(res).get("Encrypted")):
                matches.append(RuleMatch(["Resources", name, "Properties"], f"volume {name} is not encrypted: set Encrypted to true"))
        for name, res in _resources(cfn, "AWS::EC2::Instance").items():
            matches += _block_device_matches(_props(res).get("BlockDeviceMappings"), ["Resources", name, "Properties", "BlockDeviceMappings"])
        for name, res in _resources(cfn, "AWS::EC2::LaunchTemplate").items():
            data = _props(res).get("LaunchTemplateData", {})
            if isinstance(data, dict):
                matches += _block_device_matches(data.get("BlockDeviceMappings"),
                                                 ["Resources", name, "Properties", "LaunchTemplateData", "BlockDeviceMappings"])
        return matches


class BucketEncryption(CloudFormationLintRule):
    id = "E9104"
    shortdesc = "S3 bucket without encryption"
    description = "S3 buckets must declare default encryption (BucketEncryption)."
    tags = ["security", "s3", "arw"]

    def match(self, cfn):
        matches = []
        for name, res in _resources(cfn, "AWS::S3::Bucket").items():
            config = _props(res).get("BucketEncryption", {})
            rules = config.get("ServerSideEncryptionConfiguration") if isinstance(config, dict) else None
            if not rules:
                matches.append(RuleMatch(["Resources", name, "Properties"], f"bucket {name} has no default encryption (BucketEncryption)"))
        return matches


class BucketPublicAccessBlock(CloudFormationLintRule):
    id = "E9105"
    shortdesc = "S3 bucket without a full public access block"
    description = "S3 buckets must block public ACLs and policies (all four PublicAccessBlockConfiguration settings true)."
    tags = ["security", "s3", "arw"]
    SETTINGS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")

    def match(self, cfn):
        matches = []
        for name, res in _resources(cfn, "AWS::S3::Bucket").items():
            block = _props(res).get("PublicAccessBlockConfiguration")
            missing = [s for s in self.SETTINGS if not (isinstance(block, dict) and _is_true(block.get(s)))]
            if missing:
                matches.append(RuleMatch(["Resources", name, "Properties"],
                                         f"bucket {name} does not block public access: set {', '.join(missing)} to true"))
        return matches


def _policy_documents(cfn):
    """(path, document) for every inline or managed IAM policy document."""
    for name, res in _resources(cfn, "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy").items():
        doc = _props(res).get("PolicyDocument")
        if isinstance(doc, dict):
            yield ["Resources", name, "Properties", "PolicyDocument"], doc
    for name, res in _resources(cfn, "AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group").items():
        for i, policy in enumerate(_props(res).get("Policies", []) or []):
            if isinstance(policy, dict) and isinstance(policy.get("PolicyDocument"), dict):
                yield ["Resources", name, "Properties", "Policies", i, "PolicyDocument"], policy["PolicyDocument"]


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _statements(doc: dict[str, Any]):
    for i, statement in enumerate(_as_list(doc.get("Statement", []))):
        if isinstance(statement, dict) and statement.get("Effect") == "Allow":
            yield i, statement


class IamWildcardAdmin(CloudFormationLintRule):
    id = "E9106"
    shortdesc = "IAM policy allows every action on every resource"
    description = 'IAM policies must not allow Action "*" on Resource "*".'
    tags = ["security", "iam", "arw"]

    def match(self, cfn):
        matches = []
        for path, doc in _policy_documents(cfn):
            for i, statement in _statements(doc):
                if "*" in _as_list(statement.get("Action")) and "*" in _as_list(statement.get("Resource")):
                    matches.append(RuleMatch([*path, "Statement", i], 'statement allows Action "*" on Resource "*"; list the actions and resources it needs'))
        return matches


class IamPassRoleWildcard(CloudFormationLintRule):
    id = "W9107"
    shortdesc = "iam:PassRole on any role"
    description = 'iam:PassRole on Resource "*" lets the holder hand any role to a service.'
    tags = ["security", "iam", "arw"]

    def match(self, cfn):
        matches = []
        for path, doc in _policy_documents(cfn):
            for i, statement in _statements(doc):
                actions = [str(a).lower() for a in _as_list(statement.get("Action"))]
                if ("iam:passrole" in actions or "iam:*" in actions) and "*" in _as_list(statement.get("Resource")):
                    matches.append(RuleMatch([*path, "Statement", i], 'iam:PassRole is allowed on Resource "*"; name the roles it may pass'))
        return matches


class HardCodedAmi(CloudFormationLintRule):
    id = "E9108"
    shortdesc = "Hard-coded AMI id"
    description = "Images must come from an AWS public SSM parameter, not a fixed ami-... id (ids differ per region and go stale)."
    tags = ["security", "ec2", "ami", "arw"]

    def match(self, cfn):
        matches = []
        for name, res in _resources(cfn, "AWS::EC2::Instance").items():
            if isinstance(_props(res).get("ImageId"), str) and AMI_ID.match(_props(res)["ImageId"]):
                matches.append(RuleMatch(["Resources", name, "Properties", "ImageId"], f"{name} uses the fixed AMI {_props(res)['ImageId']}"))
        for name, res in _resources(cfn, "AWS::EC2::LaunchTemplate").items():
            data = _props(res).get("LaunchTemplateData", {})
            image = data.get("ImageId") if isinstance(data, dict) else None
            if isinstance(image, str) and AMI_ID.match(image):
                matches.append(RuleMatch(["Resources", name, "Properties", "LaunchTemplateData", "ImageId"], f"{name} uses the fixed AMI {image}"))
        for name, param in (cfn.template.get("Parameters") or {}).items():
            if isinstance(param, dict) and isinstance(param.get("Default"), str) and AMI_ID.match(param["Default"]):
                matches.append(RuleMatch(["Parameters", name, "Default"],
                                         f"parameter {name} defaults to the fixed AMI {param['Default']}; use type "
                                         "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id> with a /aws/service/... parameter"))
        for map_name, mapping in (cfn.template.get("Mappings") or {}).items():
            for key, values in (mapping.items() if isinstance(mapping, dict) else []):
                for field, value in (values.items() if isinstance(values, dict) else []):
                    if isinstance(value, str) and AMI_ID.match(value):
                        matches.append(RuleMatch(["Mappings", map_name, key, field], f"mapping {map_name} hard-codes the AMI {value}"))
        return matches
