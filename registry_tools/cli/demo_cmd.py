"""``demo``: the main flow, end to end, on this machine only (``make demo`` runs it).

1. validate every pack and print the catalogue;
2. build the registry signed with a locally generated Ed25519 key (valid for a
   year from the moment it is built, so the demo works on any date), verify
   it, publish it to a local mirror, trust it, search it and install genomics;
3. start the sandbox (moto on 127.0.0.1), deploy genomics there as a session,
   list sessions, show the session and one monitor snapshot, destroy it, and
   stop the sandbox.
Each step runs the real ``aws-research-wizard`` command and stops the demo at
the first failure with its exit code. Needs a source checkout (the packs).
At the end it says how to keep using the demo's registry from a shell.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import click

from registry_tools.cli.output import Command, UserError, command_now

DEMO_VALIDITY = timedelta(days=365)


def _exe() -> str:
    return str(Path(sys.executable).with_name("aws-research-wizard"))


def step(root: Path, title: str, *args: str, capture: bool = False) -> str:
    click.secho(f"\n== {title}", bold=True)
    click.echo(f"$ aws-research-wizard {shlex.join(args)}")
    result = subprocess.run([_exe(), *args], cwd=root, text=True,
                            stdout=subprocess.PIPE if capture else None)
    if result.returncode != 0:
        click.secho(f"\ndemo: step failed with exit code {result.returncode}", err=True, fg="red")
        raise SystemExit(result.returncode)
    return result.stdout or ""


@click.command("demo", cls=Command, context_settings={"help_option_names": ["-h", "--help"]})
def demo() -> None:
    """Run the whole flow on the sandbox: validate, build and sign a registry, trust it, install
    genomics, deploy it as a session, list and show sessions, destroy it. No AWS account needed."""
    from registry_tools.paths import find_repo_root, state_dir

    root = find_repo_root()
    if root is None:
        raise UserError("the demo builds a registry from the packs of a source checkout; run it inside one "
                        "(git clone ...; make demo)")
    home = state_dir()
    click.echo(f"AWS Research Wizard demo (state in {home})")
    key = home / "keys" / "demo-registry.pem"
    dist = root / "dist"
    step(root, "Version", "--version")
    step(root, "Validate every pack: schema, prices, template security, cfn-lint", "registry", "validate")
    step(root, "The catalogue", "registry", "list")
    if not key.exists():
        step(root, "A local signing key for this demo registry", "registry", "keygen", str(key))
    from registry_tools.timefmt import format_utc

    expires = format_utc(command_now() + DEMO_VALIDITY)
    step(root, "Build the registry, signed with that key, valid for a year from now", "registry", "build",
         "--out", str(dist), "--sign-key", str(key), "--expires", expires)
    step(root, "Verify every archive and the index against the public key", "registry", "verify", str(dist),
         "--trust-key", f"{key}.pub")
    mirror = home / "mirror"
    step(root, "Publish it to a local mirror", "registry", "publish", str(dist), "--to", str(mirror))
    for earlier in ("demo", "public"):  # the demo's state directory uses its own registry only: it works offline
        subprocess.run([_exe(), "config", "registries", "remove", earlier], cwd=root, capture_output=True)
    step(root, "Trust that registry with the demo key", "config", "registries", "add", "demo", str(mirror),
         "--trust-key", f"{key}.pub")
    step(root, "Search it", "config", "search", "genomics", "--registry", "demo")
    step(root, "Install a pack by constraint (checksum and signature verified before unpacking)",
         "config", "install", "genomics@^1.1", "--registry", "demo")
    step(root, "Installed packs", "config", "list")
    step(root, "Start the local AWS sandbox (no AWS account needed)", "sandbox", "start")
    try:
        step(root, "Deploy genomics as a session in the sandbox", "deploy", "--domain", "genomics@^1.1", "--sandbox")
        step(root, "Sessions survive quitting: list them", "sessions", "list")
        rows = json.loads(step(root, "(the same as JSON, for scripts)", "sessions", "list", "--json", capture=True))
        session_id = rows[0]["id"]
        click.echo(f"newest session: {session_id}")
        step(root, "Show the session", "sessions", "show", session_id)
        step(root, "One monitor snapshot: health, CPU, memory, cost so far (live without --once; q quits)",
             "monitor", "--session", session_id, "--once")
        step(root, "Destroy it: delete the stack and complete the session", "sessions", "destroy", session_id)
        step(root, "Point the AWS CLI or boto3 at the sandbox", "sandbox", "env")
    finally:
        step(root, "Stop the sandbox", "sandbox", "stop")
    activate = Path(sys.executable).parent / "activate"
    on_path = f"\n  . {shlex.quote(str(activate))}   # puts aws-research-wizard on PATH" if activate.is_file() else ""
    click.echo(f"""
Demo finished. Its registry (signed index valid until {expires}), installed pack and sessions are in
{home}. To keep using them from your shell:{on_path}
  export ARW_HOME={shlex.quote(str(home))}
  aws-research-wizard config browse
or trust the demo registry from your own configuration:
  aws-research-wizard config registries add demo {shlex.quote(str(mirror))} --trust-key {shlex.quote(f"{key}.pub")}
Next: `aws-research-wizard registry new my_field` to start a pack of your own.""")
