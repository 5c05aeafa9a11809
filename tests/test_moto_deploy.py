"""Every pack template deploys to CREATE_COMPLETE under moto with its default size.

moto resolves /aws/service/ami-amazon-linux-latest/* itself; the Deep Learning
AMI parameters are seeded into the emulator by the sandbox's public-parameter
module (real AWS has them). The templates themselves are not changed.
"""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from registry_tools.packs.loader import load_pack_files
from registry_tools.sandbox.public_parameters import seed

from .conftest import all_version_dirs, version_id

ACCOUNT = "123456789012"


@pytest.mark.slow
@pytest.mark.parametrize("version_dir", all_version_dirs(), ids=version_id)
def test_default_size_deploys_to_create_complete(version_dir):
    deploy_default_size(version_dir)


def deploy_default_size(version_dir):
    """Create the pack's stack in moto with its default parameters and check what it built."""
    loaded = load_pack_files(version_dir)
    pack = loaded.pack
    region = pack.cost_estimate.region
    with mock_aws():
        seed(ACCOUNT, region)
        cfn = boto3.client("cloudformation", region_name=region)
        parameters = [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in pack.deployment.parameters.items()]
        cfn.create_stack(StackName=f"arw-{pack.name.replace('_', '-')}", TemplateBody=loaded.template_text,
                         Parameters=parameters, Capabilities=["CAPABILITY_IAM"],
                         Tags=[{"Key": "arw:domain", "Value": pack.name}])
        stack = cfn.describe_stacks(StackName=f"arw-{pack.name.replace('_', '-')}")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert set(pack.deployment.outputs) <= set(outputs)
        ec2 = boto3.client("ec2", region_name=region)
        instance = ec2.describe_instances(InstanceIds=[outputs["InstanceId"]])["Reservations"][0]["Instances"][0]
        assert instance["InstanceType"] == pack.default.instance_type
        s3 = boto3.client("s3", region_name=region)
        encryption = s3.get_bucket_encryption(Bucket=outputs["BucketName"])
        assert encryption["ServerSideEncryptionConfiguration"]["Rules"]
        # moto does not apply PublicAccessBlockConfiguration from templates; test_templates checks it.


def test_gpu_size_of_a_mixed_pack_uses_the_gpu_image():
    from .conftest import REFERENCE_PACK

    loaded = load_pack_files(REFERENCE_PACK)
    region = "us-east-1"
    with mock_aws():
        seed(ACCOUNT, region)
        ssm = boto3.client("ssm", region_name=region)
        cfn = boto3.client("cloudformation", region_name=region)
        cfn.create_stack(StackName="gpu", TemplateBody=loaded.template_text, Capabilities=["CAPABILITY_IAM"],
                         Parameters=[{"ParameterKey": "InstanceType", "ParameterValue": loaded.pack.size("gpu").instance_type}])
        stack = cfn.describe_stacks(StackName="gpu")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        template = json.loads(loaded.template_text)
        gpu_param = template["Parameters"]["GpuAmiId"]["Default"]
        expected = ssm.get_parameter(Name=gpu_param)["Parameter"]["Value"]
        instance_id = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["InstanceId"]
        instance = boto3.client("ec2", region_name=region).describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        assert instance["ImageId"] == expected
        assert instance["InstanceType"] == "g5.12xlarge"
