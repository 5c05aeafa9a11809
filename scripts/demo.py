"""The main flow, end to end, on this machine only (make demo).

1. validate every pack (schema, consistency, prices, cfn-lint),
2. print the catalogue of packs,
3. start the local AWS sandbox (moto on 127.0.0.1), show it answers, stop it.
Later releases extend this to build, install and deploy a pack in the sandbox.
Each step runs the real `aws-research-wizard` command; the demo stops at the
first failing step with its exit code.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).with_name("aws-research-wizard"))


def step(title: str, *args: str) -> None:
    print(f"\n== {title}\n$ aws-research-wizard {shlex.join(args)}", flush=True)
    result = subprocess.run([EXE, *args], cwd=ROOT)
    if result.returncode != 0:
        print(f"\ndemo: step failed with exit code {result.returncode}", file=sys.stderr)
        raise SystemExit(result.returncode)


def main() -> None:
    print(f"AWS Research Wizard demo (state in {os.environ.get('ARW_HOME', '~/.aws-research-wizard')})")
    step("Version", "--version")
    step("Validate every pack: schema, prices, template security, cfn-lint", "registry", "validate")
    step("The catalogue", "registry", "list")
    step("Start the local AWS sandbox (no AWS account needed)", "sandbox", "start")
    try:
        step("Sandbox status", "sandbox", "status")
        step("Point the AWS CLI or boto3 at it", "sandbox", "env")
    finally:
        step("Stop the sandbox", "sandbox", "stop")
    print("\nDemo finished. Next: `aws-research-wizard registry new my_field` to start a pack of your own.")


if __name__ == "__main__":
    main()
