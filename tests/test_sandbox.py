"""The sandbox runs a real moto server on 127.0.0.1 that boto3 can use, and stops cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

EXE = Path(sys.executable).with_name("aws-research-wizard")


def arw(*args, env):
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def env(tmp_path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment["ARW_HOME"] = str(tmp_path / "home")
    yield environment
    arw("sandbox", "stop", env=environment)


def test_start_use_status_stop(env):
    started = arw("sandbox", "start", "--json", env=env)
    assert started.returncode == 0, started.stderr
    info = json.loads(started.stdout)
    assert info["started"] is True and info["endpoint"].startswith("http://127.0.0.1:")

    again = json.loads(arw("sandbox", "start", "--json", env=env).stdout)
    assert again["started"] is False and again["pid"] == info["pid"]

    status = arw("sandbox", "status", "--json", env=env)
    assert status.returncode == 0 and json.loads(status.stdout)["healthy"] is True

    exports = arw("sandbox", "env", env=env).stdout
    assert f"export AWS_ENDPOINT_URL={info['endpoint']}" in exports

    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    ssm = session.client("ssm", endpoint_url=info["endpoint"])
    dlami = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id"
    assert ssm.get_parameter(Name=dlami)["Parameter"]["Value"].startswith("ami-")
    s3 = session.client("s3", endpoint_url=info["endpoint"])
    s3.create_bucket(Bucket="arw-sandbox-test")
    assert "arw-sandbox-test" in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    stopped = arw("sandbox", "stop", env=env)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    after = arw("sandbox", "status", env=env)
    assert after.returncode == 1 and "not running" in after.stdout


def test_env_without_sandbox_is_a_clear_error(env):
    result = arw("sandbox", "env", env=env)
    assert result.returncode == 1 and "not running" in result.stderr and "Traceback" not in result.stderr
