"""Every pack template passes the validator's own rules, not a copy of them.

``findings_of(version_dir)`` runs what ``registry validate`` runs on a template, minus cfn-lint
(``test_cfn_lint``): the security rules (``registry_tools.security.check_template``, the same
E91xx/W91xx the client and ``config diff`` run) and the semantic checks
(``validation.semantics.check_pack``: instance types, outputs, ConnectCommand, the CloudWatch
agent, declared software installed). ``check_all`` requires none, errors or warnings (also used on
new and bumped packs by ``test_cli``). The mutation tests break each invariant this file once
checked by hand and expect the validator's rule id for it, so none is left to pytest alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry_tools.packs.loader import load_pack_files
from registry_tools.pricing.catalogue import Catalogue
from registry_tools.security import check_template
from registry_tools.validation.semantics import check_pack

from .conftest import all_version_dirs, version_id

VERSION_DIRS = all_version_dirs()


def findings_of(version_dir: Path) -> list[str]:
    """Every security and semantic finding of one pack version, as ``[RULE] message`` lines."""
    loaded = load_pack_files(version_dir)
    security = [f"[{f.rule}] {f.resource}: {f.message}" for f in check_template(loaded.template)]
    semantic = [f"[{f.rule}] {f.message}" for f in check_pack(loaded, Catalogue.load(), Path(version_dir).resolve())]
    return security + semantic


def check_all(version_dir: Path) -> None:
    assert findings_of(version_dir) == []


@pytest.mark.parametrize("version_dir", VERSION_DIRS, ids=version_id)
def test_template_passes_the_validators_rules(version_dir):
    check_all(version_dir)


# --------------------------------------------------------------------------- each invariant has a rule


def _resources(t):
    return t["Resources"]


def _lt(t):
    return t["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]


def _role_statements(t):
    return t["Resources"]["InstanceRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


def _user_data(t):
    return _lt(t)["UserData"]["Fn::Base64"]


def _replace_in_user_data(old, new):
    def edit(t):
        body = _user_data(t)
        assert old in body["Fn::Sub"], old
        body["Fn::Sub"] = body["Fn::Sub"].replace(old, new)
    return edit


BREAKS = {
    "https-from-the-world": ("W9114", lambda t: _resources(t)["InstanceSecurityGroup"]["Properties"].update(
        SecurityGroupIngress=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIpv6": "::/0"}])),
    "ssh-from-the-world": ("E9101", lambda t: _resources(t)["InstanceSecurityGroup"]["Properties"].update(
        SecurityGroupIngress=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}])),
    "imds-optional": ("E9102", lambda t: _lt(t)["MetadataOptions"].update(HttpTokens="optional")),
    "instance-without-launch-template": ("E9102", lambda t: _resources(t)["Instance"]["Properties"].pop("LaunchTemplate")),
    "unencrypted-root-volume": ("E9103", lambda t: _lt(t)["BlockDeviceMappings"][0]["Ebs"].update(Encrypted=False)),
    "bucket-without-encryption": ("E9104", lambda t: _resources(t)["ResultsBucket"]["Properties"].pop("BucketEncryption")),
    "bucket-not-private": ("E9105", lambda t: _resources(t)["ResultsBucket"]["Properties"][
        "PublicAccessBlockConfiguration"].update(IgnorePublicAcls=False)),
    "administrator-access": ("E9106", lambda t: _resources(t)["InstanceRole"]["Properties"]["ManagedPolicyArns"].append(
        "arn:aws:iam::aws:policy/AdministratorAccess")),
    "s3-full-access": ("E9112", lambda t: _resources(t)["InstanceRole"]["Properties"]["ManagedPolicyArns"].append(
        "arn:aws:iam::aws:policy/AmazonS3FullAccess")),
    "every-action-on-its-bucket": ("W9115", lambda t: _role_statements(t)[1].update(Action="*")),
    "service-star-on-its-bucket": ("W9115", lambda t: _role_statements(t)[1].update(Action=["s3:*"])),
    "its-actions-on-every-resource": ("W9115", lambda t: _role_statements(t)[1].update(Resource="*")),
    "fixed-ami": ("E9108", lambda t: _resources(t)["Instance"]["Properties"].update(ImageId="ami-0123456789abcdef0")),
    "ami-not-from-a-public-parameter": ("E9108", lambda t: t["Parameters"]["LatestAmiId"].update(Default="/team/ami")),
    "ami-from-a-plain-parameter": ("E9108", lambda t: t["Parameters"]["LatestAmiId"].update(Type="AWS::EC2::Image::Id")),
    "size-not-allowed": ("ARW130", lambda t: t["Parameters"]["InstanceType"]["AllowedValues"].remove("m7i.2xlarge")),
    "default-not-the-default-size": ("ARW132", lambda t: t["Parameters"]["InstanceType"].update(Default="m7i.2xlarge")),
    "output-missing": ("ARW131", lambda t: t["Outputs"].pop("BucketName")),
    "connect-not-through-ssm": ("ARW134", lambda t: t["Outputs"]["ConnectCommand"].update(
        Value={"Fn::Sub": "ssh ec2-user@${Instance.PublicDnsName}"})),
    "no-memory-metric": ("ARW150", _replace_in_user_data('"measurement": ["mem_used_percent"]', '"measurement": ["mem_free"]')),
    "no-cwagent-namespace": ("ARW150", _replace_in_user_data('"namespace": "CWAgent"', '"namespace": "Custom"')),
    "agent-never-started": ("ARW150", _replace_in_user_data("amazon-cloudwatch-agent-ctl", "true")),
    "package-not-installed": ("ARW151", _replace_in_user_data("'minimap2=2.28'", "")),
}


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_every_invariant_is_a_validator_rule(pack_copy, case):
    rule, breaks = BREAKS[case]
    check_all(pack_copy)
    path = pack_copy / "cloudformation.json"
    template = json.loads(path.read_text())
    breaks(template)
    path.write_text(json.dumps(template, indent=2))
    found = findings_of(pack_copy)
    assert any(line.startswith(f"[{rule}]") for line in found), found
    with pytest.raises(AssertionError):
        check_all(pack_copy)
