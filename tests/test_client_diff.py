"""registry_tools.diff.versions: what changes for a user between two pack versions."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from types import MappingProxyType

import pytest

from registry_tools.diff.versions import (
    INFO,
    WARNING,
    PackDiff,
    diff_packs,
    parse_software_item,
    render_text,
)
from registry_tools.packs.loader import LoadedPack, load_pack_files

from .conftest import DOMAINS

GENOMICS = DOMAINS / "genomics"


@pytest.fixture(scope="module")
def v110() -> LoadedPack:
    return load_pack_files(GENOMICS / "v1.1.0")


@pytest.fixture(scope="module")
def v120() -> LoadedPack:
    return load_pack_files(GENOMICS / "v1.2.0")


@pytest.fixture(scope="module")
def real_diff(v110, v120) -> PackDiff:
    return diff_packs(v110, v120)


def edited(loaded: LoadedPack, edit) -> LoadedPack:
    """A copy of ``loaded`` whose template was changed in place by ``edit(template)``."""
    template = copy.deepcopy(loaded.template)
    edit(template)
    return replace(loaded, template=template)


def with_pack(loaded: LoadedPack, **changes) -> LoadedPack:
    return replace(loaded, pack=replace(loaded.pack, **changes))


def warnings(diff: PackDiff) -> list[str]:
    return [c.message for c in diff.security if c.severity == WARNING]


def infos(diff: PackDiff) -> list[str]:
    return [c.message for c in diff.security if c.severity == INFO]


def resources(template):
    return template["Resources"]


# --------------------------------------------------------------------------- the real genomics 1.1.0 -> 1.2.0


def test_real_versions_new_gpu_size_and_its_cost(real_diff, v120):
    gpu = real_diff.size_change("gpu")
    assert gpu is not None and gpu.kind == "added" and gpu.old is None
    assert gpu.new.instance_type == "g5.12xlarge"
    assert (gpu.new.vcpus, gpu.new.memory_gib, gpu.new.gpus) == (48, 192, 4)
    assert [c.name for c in real_diff.sizes] == ["gpu"]

    cost = real_diff.cost_change("gpu")
    assert cost is not None
    assert cost.old is None and cost.new == v120.pack.cost_estimate.monthly_usd["gpu"] == pytest.approx(4220.56)
    assert cost.delta is None and cost.percent is None
    # the other sizes' prices did not move
    assert [c.size for c in real_diff.costs] == ["gpu"]
    assert real_diff.default_cost is not None and real_diff.default_cost.delta == 0
    assert real_diff.default_size is None


def test_real_versions_parameters(real_diff):
    [added] = real_diff.parameter_changes("GpuAmiId")
    assert added.kind == "added"
    assert added.new["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    [allowed] = real_diff.parameter_changes("InstanceType")
    assert allowed.kind == "allowed_values"
    assert "g5.12xlarge" in allowed.new and "g5.12xlarge" not in allowed.old
    assert "+g5.12xlarge" in allowed.describe()


def test_real_versions_software(real_diff):
    samtools = real_diff.software_change("samtools", "conda")
    assert samtools is not None and samtools.kind == "changed"
    assert (samtools.old_version, samtools.new_version) == ("1.19", "1.21")
    assert real_diff.software_change("gatk4").new_version == "4.6.1.0"
    minimap2 = real_diff.software_change("minimap2")
    assert minimap2.kind == "added" and minimap2.new_version == "2.28"
    deepvariant = real_diff.software_change("google/deepvariant", "containers")
    assert (deepvariant.old_version, deepvariant.new_version) == ("1.6.0", "1.8.0")
    parabricks = real_diff.software_change("nvcr.io/nvidia/clara/clara-parabricks")
    assert parabricks.kind == "added" and parabricks.new_version == "4.4.0-1"
    # unchanged packages are not listed
    assert real_diff.software_change("fastqc") is None
    assert real_diff.software_change("bwa-mem2") is None


def test_real_versions_resources_iam_security(real_diff):
    changed = real_diff.resources_by_type("changed")
    assert set(changed) == {"AWS::EC2::Instance", "AWS::EC2::LaunchTemplate"}
    assert changed["AWS::EC2::Instance"][0].properties == ("ImageId",)
    assert changed["AWS::EC2::LaunchTemplate"][0].properties == ("LaunchTemplateData",)
    assert not real_diff.resources_by_type("added") and not real_diff.resources_by_type("removed")
    assert real_diff.iam == () and real_diff.managed_policies == ()
    assert real_diff.security == ()
    assert real_diff.regions_added == () and real_diff.regions_removed == ()


def test_real_versions_text_report(real_diff):
    text = render_text(real_diff)
    summary = text.splitlines()[0]
    assert summary.startswith("genomics 1.1.0 -> 1.2.0: ")
    assert "2 resources changed" in summary and "1 size added" in summary and "1 parameter added" in summary
    assert "default size standard unchanged at $812.63/month" in summary
    for title in ("Resources (+0 -0 ~2)", "Parameters", "Sizes", "Monthly cost (USD)", "Software"):
        assert f"\n{title}\n" in text
    # sections without content are left out
    for title in ("Security", "IAM", "Regions"):
        assert f"\n{title}\n" not in text
    assert "+ gpu: g5.12xlarge, 48 vCPUs, 192 GiB memory, 4 x NVIDIA A10G GPU, 1000 GiB storage" in text
    assert "$4,220.56" in text
    assert "~ samtools 1.19 -> 1.21" in text
    assert "+ GpuAmiId (AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>" in text


def test_real_versions_json(real_diff):
    data = json.loads(json.dumps(real_diff.to_dict()))
    assert data["pack"] == "genomics" and (data["old_version"], data["new_version"]) == ("1.1.0", "1.2.0")
    assert data["empty"] is False and data["summary"] == real_diff.summary()
    assert [s["name"] for s in data["sizes"]["added"]] == ["gpu"]
    assert data["sizes"]["added"][0]["instance_type"] == "g5.12xlarge"
    assert data["monthly_cost"]["sizes"] == [{"size": "gpu", "old": None, "new": 4220.56, "delta": None, "percent": None}]
    assert {"manager": "conda", "change": "changed", "name": "samtools",
            "old_version": "1.19", "new_version": "1.21"} in data["software"]
    assert data["parameters"][0]["name"] == "GpuAmiId" and data["parameters"][0]["change"] == "added"
    assert list(data["resources"]["changed"]) == ["AWS::EC2::Instance", "AWS::EC2::LaunchTemplate"]
    assert data["security"] == []


def test_downgrade_is_the_mirror_image(v110, v120):
    diff = diff_packs(v120, v110)
    assert diff.size_change("gpu").kind == "removed"
    assert diff.cost_change("gpu").new is None
    assert diff.parameter_changes("GpuAmiId")[0].kind == "removed"
    assert diff.software_change("minimap2").kind == "removed"
    assert (diff.software_change("samtools").old_version, diff.software_change("samtools").new_version) == ("1.21", "1.19")


# --------------------------------------------------------------------------- identical versions


def test_identical_versions_give_an_empty_diff(v120):
    diff = diff_packs(v120, v120)
    assert diff.is_empty
    assert diff.resources == diff.iam == diff.security == diff.parameters == diff.sizes == diff.costs == diff.software == ()
    assert render_text(diff) == "genomics 1.2.0 -> 1.2.0: no changes\n"
    data = diff.to_dict()
    assert data["empty"] is True
    assert data["resources"] == {"added": {}, "removed": {}, "changed": {}}
    assert data["security"] == [] and data["software"] == [] and data["sizes"]["added"] == []


def test_a_fresh_load_of_the_same_directory_is_empty(v120):
    assert diff_packs(v120, load_pack_files(GENOMICS / "v1.2.0")).is_empty


# --------------------------------------------------------------------------- synthetic security edits


def open_ssh(cidr_key: str, cidr: str):
    def edit(template):
        group = resources(template)["InstanceSecurityGroup"]["Properties"]
        group["SecurityGroupIngress"] = [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, cidr_key: cidr, "Description": "SSH"}
        ]
    return edit


@pytest.mark.parametrize(("key", "cidr"), [("CidrIp", "0.0.0.0/0"), ("CidrIpv6", "::/0")])
def test_ssh_opened_to_the_world_is_a_warning(v120, key, cidr):
    diff = diff_packs(v120, edited(v120, open_ssh(key, cidr)))
    [message] = warnings(diff)
    assert "SSH" in message and "22" in message and cidr in message and "internet" in message
    assert "InstanceSecurityGroup" in message
    assert diff.security[0].resource == "InstanceSecurityGroup"
    [change] = diff.resources_by_type("changed")["AWS::EC2::SecurityGroup"]
    assert change.properties == ("SecurityGroupIngress",)
    text = render_text(diff)
    assert text.splitlines()[0].startswith("genomics 1.2.0 -> 1.2.0: 1 security warning, 1 resource changed")
    # the security rules' own finding, with the rule id `--allow-insecure` takes and its fix
    assert f"\nSecurity\n  ! warning: new E9101: SSH (tcp 22) is open to the internet ({cidr}) in InstanceSecurityGroup" in text
    assert diff.security[0].rule == "E9101" and "SSM Session Manager" in diff.security[0].fix
    assert diff.to_dict()["security"][0]["rule"] == "E9101"


def test_ssh_closed_is_info(v120):
    diff = diff_packs(edited(v120, open_ssh("CidrIp", "0.0.0.0/0")), v120)
    assert warnings(diff) == []
    [message] = infos(diff)
    assert message.startswith("resolved E9101: SSH (tcp 22) is open to the internet (0.0.0.0/0)")


def test_separate_ingress_resource_and_parameter_default(v120):
    def edit(template):
        template["Parameters"]["AdminCidr"] = {"Type": "String", "Default": "0.0.0.0/0"}
        resources(template)["RdpIngress"] = {
            "Type": "AWS::EC2::SecurityGroupIngress",
            "Properties": {"GroupId": {"Fn::GetAtt": ["InstanceSecurityGroup", "GroupId"]}, "IpProtocol": "tcp",
                           "FromPort": 3389, "ToPort": 3389, "CidrIp": {"Ref": "AdminCidr"}},
        }
    diff = diff_packs(v120, edited(v120, edit))
    [message] = warnings(diff)
    assert "RDP (tcp 3389)" in message and "0.0.0.0/0" in message and "InstanceSecurityGroup" in message
    assert diff.resources_by_type("added")["AWS::EC2::SecurityGroupIngress"][0].logical_id == "RdpIngress"
    assert diff.parameter_changes("AdminCidr")[0].kind == "added"


def test_ingress_from_inside_the_network_is_info(v120):
    def edit(template):
        resources(template)["InstanceSecurityGroup"]["Properties"]["SecurityGroupIngress"] = [
            {"IpProtocol": "tcp", "FromPort": 2049, "ToPort": 2049, "CidrIp": "10.42.0.0/16"},
            {"IpProtocol": "-1", "SourceSecurityGroupId": {"Ref": "InstanceSecurityGroup"}},
        ]
    diff = diff_packs(v120, edited(v120, edit))
    assert warnings(diff) == []
    assert len(infos(diff)) == 2
    assert any("NFS (tcp 2049) from 10.42.0.0/16" in m for m in infos(diff))
    assert any("all traffic from security group InstanceSecurityGroup on InstanceSecurityGroup" in m for m in infos(diff))


def test_ingress_is_read_where_the_rules_read_it(v120):
    """One reader (security.effective): a separate ingress resource, a prefix list of the template and
    each allowed value of a parameter show in the diff as they do in the rules."""
    def edit(template):
        template["Parameters"]["Lab"] = {"Type": "String", "AllowedValues": ["10.1.0.0/16", "10.2.0.0/16"]}
        resources(template)["Campus"] = {"Type": "AWS::EC2::PrefixList", "Properties": {
            "PrefixListName": "campus", "AddressFamily": "IPv4", "MaxEntries": 1,
            "Entries": [{"Cidr": "172.16.0.0/12"}]}}
        resources(template)["FromCampus"] = {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
            "GroupId": {"Fn::GetAtt": ["InstanceSecurityGroup", "GroupId"]}, "IpProtocol": "tcp",
            "FromPort": 8888, "ToPort": 8888, "SourcePrefixListId": {"Fn::GetAtt": ["Campus", "PrefixListId"]}}}
        resources(template)["FromLab"] = {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
            "GroupId": {"Ref": "InstanceSecurityGroup"}, "IpProtocol": "tcp", "FromPort": 8787, "ToPort": 8787,
            "CidrIp": {"Ref": "Lab"}}}
    diff = diff_packs(v120, edited(v120, edit))
    assert warnings(diff) == []
    assert sorted(infos(diff)) == [
        "ingress opened: Jupyter (tcp 8888) from 172.16.0.0/12 in prefix list Campus.PrefixListId on InstanceSecurityGroup",
        "ingress opened: RStudio (tcp 8787) from 10.1.0.0/16, allowed by parameter Lab on InstanceSecurityGroup",
        "ingress opened: RStudio (tcp 8787) from 10.2.0.0/16, allowed by parameter Lab on InstanceSecurityGroup",
    ]
    # the same rule from a public prefix list entry is the rules' W9114, not an info line
    def public(template):
        edit(template)
        resources(template)["Campus"]["Properties"]["Entries"] = [{"Cidr": "52.94.0.0/16"}]
    diff = diff_packs(v120, edited(v120, public))
    assert [c.rule for c in diff.security if c.severity == WARNING] == ["W9114"]
    assert not any("8888" in m for m in infos(diff))


def set_encrypted(value):
    def edit(template):
        data = resources(template)["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
        data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] = value
    return edit


def test_ebs_encryption_turned_off_is_a_warning(v120):
    diff = diff_packs(v120, edited(v120, set_encrypted(False)))
    message = "E9103: block device /dev/xvda of launch template LaunchTemplate is not encrypted (Encrypted: false)"
    assert warnings(diff) == [f"new {message}"]
    assert diff.security[0].resource == "LaunchTemplate"
    back = diff_packs(edited(v120, set_encrypted(False)), v120)
    assert warnings(back) == [] and infos(back) == [f"resolved {message}"]


def test_new_unencrypted_volume_is_a_warning(v120):
    def edit(template):
        resources(template)["Scratch"] = {"Type": "AWS::EC2::Volume", "Properties": {"Size": 100, "AvailabilityZone": "x"}}
    diff = diff_packs(v120, edited(v120, edit))
    [message] = warnings(diff)
    assert message.startswith("new E9103: volume Scratch does not set Encrypted")
    assert "EBS encryption by default" in message  # why a volume without Encrypted is not safe


def remove_public_access_block(template):
    del resources(template)["ResultsBucket"]["Properties"]["PublicAccessBlockConfiguration"]


def test_public_access_block_removed_is_a_warning(v120):
    diff = diff_packs(v120, edited(v120, remove_public_access_block))
    [message] = warnings(diff)
    assert message.startswith("new E9105: bucket ResultsBucket has no PublicAccessBlockConfiguration")
    [change] = diff.resources_by_type("changed")["AWS::S3::Bucket"]
    assert change.logical_id == "ResultsBucket" and change.properties == ("PublicAccessBlockConfiguration",)
    back = diff_packs(edited(v120, remove_public_access_block), v120)
    assert warnings(back) == [] and infos(back) == [message.replace("new ", "resolved ", 1)]


def test_public_access_block_weakened_is_a_warning(v120):
    def edit(template):
        resources(template)["ResultsBucket"]["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] = False
    [message] = warnings(diff_packs(v120, edited(v120, edit)))
    assert message == "new E9105: bucket ResultsBucket does not block public access: BlockPublicPolicy is false"


def test_bucket_encryption_removed_is_a_warning(v120):
    def edit(template):
        del resources(template)["ResultsBucket"]["Properties"]["BucketEncryption"]
    diff = diff_packs(v120, edited(v120, edit))
    [message] = warnings(diff)
    assert message.startswith("new E9104: bucket ResultsBucket does not declare default encryption")
    assert infos(diff_packs(edited(v120, edit), v120)) == [message.replace("new ", "resolved ", 1)]


def add_s3_star(template):
    role = resources(template)["InstanceRole"]["Properties"]
    role["Policies"][0]["PolicyDocument"]["Statement"].append({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})


def test_s3_star_on_star_is_a_warning(v120):
    diff = diff_packs(v120, edited(v120, add_s3_star))
    [grant] = diff.iam
    assert (grant.kind, grant.principal, grant.effect, grant.action, grant.resource) == (
        "added", "InstanceRole/ResultsBucketAccess", "Allow", "s3:*", "*")
    [message] = warnings(diff)
    assert message == ("new E9112: role InstanceRole policy ResultsBucketAccess (statement 3) allows Action s3:* on "
                       "Resource *: every s3 action (s3:*) on every s3 resource")
    text = render_text(diff)
    assert "\nIAM\n  + InstanceRole/ResultsBucketAccess: Allow s3:* on *\n" in text
    data = diff.to_dict()
    assert data["iam"]["added"] == [{"principal": "InstanceRole/ResultsBucketAccess", "effect": "Allow",
                                     "action": "s3:*", "resource": "*"}]
    back = diff_packs(edited(v120, add_s3_star), v120)
    assert warnings(back) == [] and back.iam[0].kind == "removed"
    assert infos(back) == [message.replace("new ", "resolved ", 1)]


def test_iam_policy_resources_and_managed_policies(v120):
    def edit(template):
        resources(template)["ExtraPolicy"] = {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {"Roles": [{"Ref": "InstanceRole"}], "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["ec2:DescribeInstances", "iam:PassRole"],
                 "Resource": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/x"}}]}},
        }
        resources(template)["InstanceRole"]["Properties"]["ManagedPolicyArns"].append(
            {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess"})
        resources(template)["InstanceRole"]["Properties"]["ManagedPolicyArns"].pop(1)
    diff = diff_packs(v120, edited(v120, edit))
    assert {(g.action, g.resource) for g in diff.iam} == {
        ("ec2:DescribeInstances", "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/x"),
        ("iam:PassRole", "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/x"),
    }
    assert {g.principal for g in diff.iam} == {"ExtraPolicy"}
    assert {(m.kind, m.arn.rsplit("/", 1)[1]) for m in diff.managed_policies} == {
        ("added", "AdministratorAccess"), ("removed", "CloudWatchAgentServerPolicy")}
    assert warnings(diff) == ["new E9106: InstanceRole has the AWS managed policy AdministratorAccess: every action "
                              "on every resource"]


def test_iam_policies_given_as_json_text_and_fn_if_branches(v120):
    """The IAM section reads policies the way the rules do: a document given as JSON text, a
    RolePolicy resource, both branches of an Fn::If and a parameter shown as what it is."""
    def edit(template):
        template["Parameters"]["DataBucket"] = {"Type": "String"}
        template.setdefault("Conditions", {})["East"] = {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
        resources(template)["ReadData"] = {"Type": "AWS::IAM::RolePolicy", "Properties": {
            "RoleName": {"Ref": "InstanceRole"}, "PolicyName": "read-data",
            "PolicyDocument": json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::open-data/*"}]})}}
        role = resources(template)["InstanceRole"]["Properties"]
        role["Policies"][0]["PolicyDocument"]["Statement"].append({"Effect": "Allow", "Action": {
            "Fn::If": ["East", "s3:GetObject", "s3:GetObjectVersion"]}, "Resource": {
            "Fn::Sub": "arn:${AWS::Partition}:s3:::${DataBucket}/*"}})
    diff = diff_packs(v120, edited(v120, edit))
    assert {(g.principal, g.action, g.resource) for g in diff.iam} == {
        ("ReadData", "s3:GetObject", "arn:aws:s3:::open-data/*"),
        ("InstanceRole/ResultsBucketAccess", "s3:GetObject", "arn:${AWS::Partition}:s3:::${DataBucket}/*"),
        ("InstanceRole/ResultsBucketAccess", "s3:GetObjectVersion", "arn:${AWS::Partition}:s3:::${DataBucket}/*"),
    }
    assert all(g.kind == "added" and g.effect == "Allow" for g in diff.iam)
    # a bucket chosen at deploy time is outside the stack: the rules' warning, in the same diff
    assert [c.rule for c in diff.security if c.severity == WARNING] == ["W9115"]


def set_http_tokens(value):
    def edit(template):
        data = resources(template)["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
        data["MetadataOptions"]["HttpTokens"] = value
    return edit


def test_http_tokens_optional_is_a_warning(v120):
    diff = diff_packs(v120, edited(v120, set_http_tokens("optional")))
    message = ("E9102: launch template LaunchTemplate sets MetadataOptions.HttpTokens to optional: IMDSv1 stays "
               "enabled; it applies to instance Instance")
    assert warnings(diff) == [f"new {message}"]
    back = diff_packs(edited(v120, set_http_tokens("optional")), v120)
    assert warnings(back) == [] and infos(back) == [f"resolved {message}"]


def test_http_tokens_hidden_on_the_instance_is_a_warning(v120):
    """Issue 15: the instance's own MetadataOptions take precedence over its launch template's."""
    def edit(template):
        resources(template)["Instance"]["Properties"]["MetadataOptions"] = {"HttpTokens": "optional"}
    diff = diff_packs(v120, edited(v120, edit))
    [message] = warnings(diff)
    assert message == ("new E9102: instance Instance sets MetadataOptions.HttpTokens to optional, which takes "
                       "precedence over launch template LaunchTemplate: IMDSv1 stays enabled")
    assert diff.security[0].resource == "Instance" and diff.security[0].rule == "E9102"


def test_hard_coded_ami_is_a_warning(v120):
    def edit(template):
        resources(template)["Instance"]["Properties"]["ImageId"] = "ami-0123456789abcdef0"
    diff = diff_packs(v120, edited(v120, edit))
    [message] = warnings(diff)
    assert "ami-0123456789abcdef0" in message and "Resources.Instance.Properties.ImageId" in message
    assert diff.security[0].resource == "Instance"
    assert infos(diff_packs(edited(v120, edit), v120)) == [message.replace("new ", "resolved ", 1)]


def test_several_weakenings_at_once(v120):
    def edit(template):
        for change in (open_ssh("CidrIp", "0.0.0.0/0"), set_encrypted(False), remove_public_access_block,
                       add_s3_star, set_http_tokens("optional")):
            change(template)
    diff = diff_packs(v120, edited(v120, edit))
    assert len(warnings(diff)) == 5 and infos(diff) == []
    assert diff.summary().startswith("genomics 1.2.0 -> 1.2.0: 5 security warnings, 4 resources changed, 1 IAM change")
    assert [c.severity for c in diff.security] == [WARNING] * 5


# --------------------------------------------------------------------------- other template edits


def test_resources_added_removed_and_retyped(v120):
    def edit(template):
        res = resources(template)
        res["Logs"] = {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}}
        del res["ResultsBucketPolicy"]
        res["RouteTable"]["Type"] = "AWS::EC2::TransitGatewayRouteTable"
        res["ResultsBucket"]["DeletionPolicy"] = "Delete"
    diff = diff_packs(v120, edited(v120, edit))
    assert {t: [c.logical_id for c in cs] for t, cs in diff.resources_by_type("added").items()} == {
        "AWS::Logs::LogGroup": ["Logs"]}
    assert {t: [c.logical_id for c in cs] for t, cs in diff.resources_by_type("removed").items()} == {
        "AWS::S3::BucketPolicy": ["ResultsBucketPolicy"]}
    changed = diff.resources_by_type("changed")
    assert changed["AWS::EC2::TransitGatewayRouteTable"][0].old_type == "AWS::EC2::RouteTable"
    assert changed["AWS::S3::Bucket"][0].attributes == ("DeletionPolicy",)
    text = render_text(diff)
    assert "Resources (+1 -1 ~2)" in text
    assert "  AWS::Logs::LogGroup\n    + Logs\n" in text
    assert "    - ResultsBucketPolicy\n" in text
    assert "    ~ RouteTable (Type AWS::EC2::RouteTable -> AWS::EC2::TransitGatewayRouteTable)" in text


def test_parameter_default_and_allowed_values(v120):
    def edit(template):
        params = template["Parameters"]
        params["RootVolumeGiB"]["Default"] = 800
        params["InstanceType"]["AllowedValues"].remove("m7i.2xlarge")
        del params["GpuAmiId"]
    diff = diff_packs(v120, edited(v120, edit))
    kinds = {(c.name, c.kind) for c in diff.parameters}
    assert kinds == {("RootVolumeGiB", "default"), ("InstanceType", "allowed_values"), ("GpuAmiId", "removed")}
    default = diff.parameter_changes("RootVolumeGiB")[0]
    assert (default.old, default.new) == (500, 800)
    text = render_text(diff)
    assert "~ RootVolumeGiB default: 500 -> 800" in text
    assert "~ InstanceType allowed values: -m7i.2xlarge" in text
    assert "- GpuAmiId (was AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>" in text


# --------------------------------------------------------------------------- sizes, costs, regions, software


def test_size_cost_and_region_changes(v120):
    pack = v120.pack
    sizes = tuple(replace(s, instance_type="r7i.8xlarge", vcpus=32, memory_gib=256) if s.name == "standard" else s
                  for s in pack.sizes if s.name != "small")
    monthly = {k: v for k, v in pack.cost_estimate.monthly_usd.items() if k != "small"}
    monthly["standard"] = 1625.26
    new = with_pack(v120, sizes=sizes, regions=(*pack.regions[:-1], "ap-south-1"),
                    cost_estimate=replace(pack.cost_estimate, monthly_usd=MappingProxyType(monthly),
                                          price_date="2027-01-01"))
    diff = diff_packs(v120, new)

    standard = diff.size_change("standard")
    assert standard.kind == "changed" and standard.fields == ("instance_type", "vcpus", "memory_gib")
    assert diff.size_change("small").kind == "removed"
    cost = diff.cost_change("standard")
    assert (cost.old, cost.new, cost.delta, cost.percent) == (812.63, 1625.26, 812.63, 100.0)
    assert diff.cost_change("small").new is None
    assert diff.default_cost.delta == 812.63
    assert diff.cost_basis == {"price_date": ("2026-11-01", "2027-01-01")}
    assert diff.regions_added == ("ap-south-1",) and diff.regions_removed == (pack.regions[-1],)

    text = render_text(diff)
    summary = text.splitlines()[0]
    assert "1 size removed, 1 size changed" in summary
    assert "+$812.63/month on the default size (standard: $812.63 -> $1,625.26)" in summary
    assert "~ standard: instance_type r7i.4xlarge -> r7i.8xlarge, vcpus 16 -> 32, memory_gib 128 -> 256" in text
    assert "$812.63 -> $1,625.26 (+$812.63, +100.0%)" in text
    assert "~ price_date: 2026-11-01 -> 2027-01-01" in text
    assert "\nRegions\n  + ap-south-1\n  - eu-west-1\n" in text
    data = json.loads(json.dumps(diff.to_dict()))
    assert data["monthly_cost"]["default"] == {"size": "standard", "old": 812.63, "new": 1625.26,
                                               "delta": 812.63, "percent": 100.0}
    assert data["sizes"]["changed"] == [{"name": "standard", "fields": {
        "instance_type": {"old": "r7i.4xlarge", "new": "r7i.8xlarge"}, "vcpus": {"old": 16, "new": 32},
        "memory_gib": {"old": 128, "new": 256}}}]


def test_default_size_change_compares_the_two_defaults(v120):
    diff = diff_packs(v120, with_pack(v120, default_size="large"))
    assert diff.default_size == ("standard", "large")
    assert diff.default_cost.size == "standard -> large"
    assert diff.default_cost.delta == pytest.approx(2397.90 - 812.63)
    assert "default size standard -> large" in diff.summary()


def test_software_of_every_manager(v120):
    old = {"spack": {"version": "0.22.2", "specs": ["openmpi@4.1.6 fabrics=ofi", "hdf5@1.14.3 +mpi"]},
           "pip": ["torch==2.3.1", "numpy>=1.26"], "containers": ["quay.io/biocontainers/samtools:1.19--h50ea8bc_0"],
           "conda": {"channels": ["conda-forge"], "packages": ["samtools=1.19", "python==3.11"]},
           "system_packages": ["git"]}
    new = {"spack": {"version": "0.23.0", "specs": ["openmpi@5.0.5 fabrics=ofi", "hdf5@1.14.3 +mpi", "cmake@3.30.5"]},
           "pip": ["Torch==2.5.1", "numpy>=2.0"], "containers": ["quay.io/biocontainers/samtools:1.21--h50ea8bc_0"],
           "conda": {"channels": ["conda-forge", "bioconda"], "packages": ["python==3.12"]},
           "system_packages": ["git", "pigz"]}
    diff = diff_packs(with_pack(v120, software=MappingProxyType(old)), with_pack(v120, software=MappingProxyType(new)))
    got = {(c.manager, c.kind, c.name, c.old_version, c.new_version) for c in diff.software}
    assert got == {
        ("conda", "removed", "samtools", "1.19", None),
        ("conda", "changed", "python", "3.11", "3.12"),
        ("conda channels", "added", "bioconda", None, None),
        ("spack", "changed", "openmpi", "4.1.6 fabrics=ofi", "5.0.5 fabrics=ofi"),
        ("spack", "added", "cmake", None, "3.30.5"),
        ("spack", "changed", "spack", "0.22.2", "0.23.0"),
        ("pip", "changed", "torch", "2.3.1", "2.5.1"),
        ("pip", "changed", "numpy", ">=1.26", ">=2.0"),
        ("containers", "changed", "quay.io/biocontainers/samtools", "1.19--h50ea8bc_0", "1.21--h50ea8bc_0"),
        ("system_packages", "added", "pigz", None, None),
    }
    text = render_text(diff)
    assert "  spack\n" in text and "~ openmpi 4.1.6 fabrics=ofi -> 5.0.5 fabrics=ofi" in text
    assert "  system_packages\n    + pigz\n" in text


@pytest.mark.parametrize(("manager", "item", "expected"), [
    ("conda", "samtools=1.21", ("samtools", "1.21")),
    ("conda", "python==3.12", ("python", "3.12")),
    ("conda", "numpy>=2.0", ("numpy", ">=2.0")),
    ("pip", "torch==2.5.1", ("torch", "2.5.1")),
    ("pip", "transformers[torch]~=4.46", ("transformers[torch]", "~=4.46")),
    ("spack", "gromacs@2024.3 +mpi", ("gromacs", "2024.3 +mpi")),
    ("spack", "cp2k@=2024.1", ("cp2k", "2024.1")),
    ("containers", "google/deepvariant:1.8.0", ("google/deepvariant", "1.8.0")),
    ("containers", "localhost:5000/tools/x:2.1", ("localhost:5000/tools/x", "2.1")),
    ("containers", "ubuntu", ("ubuntu", None)),
    ("containers", "ubuntu@sha256:abc", ("ubuntu", "sha256:abc")),
    ("system_packages", "git", ("git", None)),
])
def test_parse_software_item(manager, item, expected):
    assert parse_software_item(manager, item) == expected
