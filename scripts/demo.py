"""The main flow, end to end, on this machine only (make demo).

1. validate every pack (schema, consistency, prices, cfn-lint, security rules),
2. print the catalogue of packs,
3. build the registry (deterministic archives + index) signed with a locally
   generated Ed25519 key, verify it, publish it to a local mirror, and install
   a pack from it,
4. start the local AWS sandbox (moto on 127.0.0.1), deploy and delete a pack
   there, and stop it.
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
    home = Path(os.environ.get("ARW_HOME", "~/.aws-research-wizard")).expanduser()
    print(f"AWS Research Wizard demo (state in {home})")
    key = home / "keys" / "demo-registry.pem"
    dist = ROOT / "dist"
    step("Version", "--version")
    step("Validate every pack: schema, prices, template security, cfn-lint", "registry", "validate")
    step("The catalogue", "registry", "list")
    if not key.exists():
        step("A local signing key for this demo registry", "registry", "keygen", str(key))
    step("Build the registry, signed with that key", "registry", "build", "--out", str(dist), "--sign-key", str(key))
    step("Verify every archive and the index against the public key", "registry", "verify", str(dist),
         "--trust-key", f"{key}.pub")
    mirror = home / "mirror"
    step("Publish it to a local mirror", "registry", "publish", str(dist), "--to", str(mirror))
    subprocess.run([EXE, "config", "registries", "remove", "demo"], cwd=ROOT, capture_output=True)
    step("Trust that registry with the demo key", "config", "registries", "add", "demo", str(mirror),
         "--trust-key", f"{key}.pub")
    step("Search it", "config", "search", "genomics", "--registry", "demo")
    step("Install a pack by constraint (checksum and signature verified before unpacking)",
         "config", "install", "genomics@^1.1", "--registry", "demo")
    step("Installed packs", "config", "list")
    step("Start the local AWS sandbox (no AWS account needed)", "sandbox", "start")
    try:
        step("Deploy genomics into the sandbox, check it, delete it", "registry", "test-deploy", "genomics", "--sandbox")
        step("Point the AWS CLI or boto3 at the sandbox", "sandbox", "env")
    finally:
        step("Stop the sandbox", "sandbox", "stop")
    print("\nDemo finished. Next: `aws-research-wizard registry new my_field` to start a pack of your own.")


if __name__ == "__main__":
    main()
