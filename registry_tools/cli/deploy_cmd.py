"""``deploy``: deploy an installed (or installable) pack as a session; ``deploy sessions ...``
manages them (the same commands as the top-level ``sessions`` group)."""

from __future__ import annotations

import click

from registry_tools.cli.client_common import allow_insecure_option
from registry_tools.cli.output import Group, UserError, command_clock, command_now, emit_json
from registry_tools.cli.sessions_cmd import (
    SANDBOX_LABEL,
    default_region,
    open_store,
    poll_seconds,
    print_event,
    resume_session,
    sandbox_requested,
    session_options,
    sessions,
    show_session,
    store_errors,
    target_for,
    watch,
)
from registry_tools.textsafe import printable


def parse_params(values: tuple[str, ...]) -> dict[str, str]:
    params = {}
    for value in values:
        key, eq, text = value.partition("=")
        if not eq or not key.strip():
            raise UserError(f"--param takes KEY=VALUE, got {value!r}")
        params[key.strip()] = text
    return params


def installed_pack(spec: str, quiet: bool, allow_insecure=()):
    """(LoadedPack, sha256) of NAME[@VERSION|@CONSTRAINT], installing it first when needed. A pinned
    pack deploys its pinned version and archive (another version asked for is refused, as by install)."""
    from registry_tools.client import pins
    from registry_tools.client.constraints import best_match, parse_constraint
    from registry_tools.client.install import installed, installed_dir
    from registry_tools.packs.errors import PackError
    from registry_tools.packs.loader import load_pack_files
    from registry_tools.packs.semver import Version

    name, _, requested = spec.partition("@")
    pin = pins.holding(name, requested, "deploy")
    constraint = parse_constraint(pin.version if pin else requested or "*")
    receipts = {r.version: r for r in installed() if r.name == name and (not pin or r.sha256 == pin.sha256)}
    match = best_match([Version.parse(v) for v in receipts], constraint) if receipts else None
    if match is None:
        from registry_tools.cli.report import notifier
        from registry_tools.client.requests import install_request

        if not quiet:
            click.echo(f"Installing {spec} ...")
        receipt = install_request(spec, now=command_now(), notify=notifier(quiet), purpose="deploy",
                                  allow_insecure=allow_insecure)
        if not quiet:
            click.echo(printable(f"Installed {receipt.name} {receipt.version} from registry {receipt.registry}"))
    else:
        receipt = receipts[str(match)]
    try:
        return load_pack_files(installed_dir(receipt.name, receipt.version)), receipt.sha256
    except PackError as exc:
        raise UserError(f"the installed pack {receipt.name} {receipt.version} is invalid:\n{exc}") from None


@click.group("deploy", cls=Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--domain", "spec", metavar="NAME[@VERSION]", help="The pack to deploy (installed first if needed).")
@click.option("--size", help="One of the pack's sizes (default: its default size).")
@click.option("--instance", "instance", metavar="TYPE", help="An instance type the pack's template allows.")
@click.option("--region", help="An AWS region the pack supports (default: the profile's or environment's region "
                                "when the pack supports it, else its first).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A template parameter (repeatable); checked against the template before anything is created.")
@click.option("--dry-run", is_flag=True, help="Show the plan (pack and digest, region, size, parameters, resources, "
                                              "IAM permissions, cost) and create nothing in AWS.")
@click.option("--detach", is_flag=True, help="Create the stack and return without following it.")
@click.option("--no-monitor", is_flag=True, help="Print a summary at the end instead of opening the live dashboard.")
@allow_insecure_option
@click.option("--session", "resume_id", metavar="ID", help="Resume this session instead of deploying.")
@click.option("--timeout", type=float, default=1800, show_default=True, help="Seconds to follow the stack.")
@click.option("--json", "as_json", is_flag=True, help="Print the resulting session as JSON (implies no live output).")
@session_options
@click.pass_context
def deploy(ctx, spec, size, instance, region, params, dry_run, detach, no_monitor, allow_insecure, resume_id, timeout,
           as_json, state, sandbox, profile) -> None:
    """Deploy a pack as a session that survives quitting (q or Ctrl-C stops watching; resume later).

    On a terminal, a deploy followed to the end opens the live dashboard (q quits;
    resume it with `monitor --session ID`). A pinned pack deploys its pinned
    version. Parameters are checked against the template first: a bad value is
    an error and nothing is created.

    \b
    Examples:
      aws-research-wizard deploy --domain genomics --sandbox
      aws-research-wizard deploy --domain genomics@^1.2 --size gpu --region us-west-2 --profile lab
      aws-research-wizard deploy --domain genomics --dry-run
      aws-research-wizard deploy --session ses_genomics_20260628_1647
      aws-research-wizard deploy sessions
    """
    import sys

    if ctx.invoked_subcommand is not None:
        return
    use_sandbox = sandbox_requested(sandbox)
    if resume_id:
        resume_session(open_store(state, use_sandbox, profile), resume_id, as_json=as_json, profile=profile)
        return
    if not spec:
        raise click.UsageError("give --domain NAME[@VERSION] to deploy, or --session ID to resume")
    from registry_tools.aws.adapter import BotoAws
    from registry_tools.aws.interface import Poll, Target
    from registry_tools.sessions import lifecycle

    loaded, sha256 = installed_pack(spec, as_json, allow_insecure)
    chosen = lifecycle.plan(loaded, size=size, instance=instance, region=region,
                       default_region=default_region(profile, sandbox=use_sandbox), params=parse_params(params))
    from registry_tools.client import policy

    verdict = policy.judge(loaded.template, allow_insecure)  # again: the pack may have been installed long ago
    if not dry_run:
        policy.enforce(verdict, f"{loaded.pack.ref}", "deploy")
        for line in policy.warnings_of(verdict, loaded.pack.ref):
            click.secho(f"warning: {line}", err=True, fg="yellow")
    if dry_run:
        target = Target(region=chosen.region, sandbox=True) if use_sandbox else \
            target_for(chosen.region, False, profile=profile)  # neither starts the sandbox nor calls AWS
        _print_plan(lifecycle.describe_plan(loaded, sha256, chosen, target), as_json)
        return
    target = target_for(chosen.region, use_sandbox, profile=profile, start=True)
    store = open_store(state, use_sandbox, profile)
    label = f"[{SANDBOX_LABEL}] " if target.is_sandbox else ""
    pack = loaded.pack

    def saved(session) -> None:
        if not as_json:
            click.echo(printable(f"{label}Deploying {pack.ref} ({chosen.size.name}, {chosen.instance_type}) to "
                                 f"{chosen.region} as stack {session.stack_name}"))
            click.echo(f"Session saved. Resume with: --session {session.id}")

    with store_errors():
        aws = BotoAws(target)
        session = lifecycle.deploy(store, loaded, sha256, chosen, aws, clock=command_clock(), detach=True,
                              watch=lifecycle.Watch(saved=saved, event=print_event),
                              allowed_insecure=verdict.allowed_rules)
        if session.status == "launching" and not detach:
            if as_json:
                session = lifecycle.follow(store, session, aws, lifecycle.Watch(), timeout, clock=command_clock(),
                                           poll=Poll(poll_seconds(target.is_sandbox)))
            else:
                session = watch(store, session, aws, timeout)
    if as_json:
        emit_json(session.to_dict())
    elif session.status == "running" and not (detach or no_monitor) and sys.stdout.isatty() and sys.stdin.isatty():
        from registry_tools.cli.monitor_cmd import live

        click.echo(f"{label}Deployment complete: session {session.id} is {session.status}. Opening the monitor "
                   "(q quits; the session goes on).")
        try:
            live(store, session.id, 30.0, "estimate", None, profile=profile)
        except UserError as exc:  # the deploy succeeded: a monitor that cannot start is not its failure
            click.secho(f"warning: the monitor could not start: {exc.format_message()}", err=True, fg="yellow")
            _report(session, label)
    else:
        _report(session, label)
    if session.status == "failed":
        raise SystemExit(1)


def _print_plan(plan: dict, as_json: bool) -> None:
    if as_json:
        emit_json(plan)
        return
    where = plan["target"]
    target = "the sandbox" if where["sandbox"] else (
        f"AWS, profile {where['profile'] or '(default credentials)'}"
        + (f", endpoint {where['endpoint_url']}" if where["endpoint_url"] else ""))
    cost = plan["cost"]
    cost_line = cost.get("error") or (f"${cost['hourly_usd']:,.4f} per hour, ${cost['monthly_usd']:,.2f} per month "
                                      f"({cost['hours_per_month']:g} h, {cost['basis']}, prices of {cost['price_date']})")
    rows = [
        ("Pack", f"{plan['pack']} {plan['version']} - {plan['title']}"),
        ("Archive", f"sha256 {plan['sha256']}"),
        ("Where", f"{plan['target']['region']} in {target}"),
        ("Size", f"{plan['size']} ({plan['instance_type']})"),
        ("Parameters", ", ".join(f"{k}={v}" for k, v in plan["parameters"].items()) or "-"),
        ("Cost", cost_line),
        ("Security", plan["security"]["summary"] + (" (a deploy would be refused)" if plan["security"]["refused"] else "")),
    ]
    rows += [("", f"[{f['rule']}] {f['resource']}: {f['message']} (fix: {f['fix']})")
             for f in plan["security"]["refused"] + plan["security"]["warnings"]]
    width = max(len(k) for k, _ in rows)
    click.secho("Dry run: nothing is created.", bold=True)
    click.echo("\n".join(f"  {k:<{width}}  {printable(v)}" for k, v in rows))  # the pack's text, escaped
    click.echo(f"Resources the stack creates ({len(plan['resources'])}):")
    click.echo("\n".join(printable(f"  {r['type']:<44} {r['logical_id']}") for r in plan["resources"]))
    iam = plan["iam"]
    click.echo(f"IAM permissions it grants ({len(iam['managed_policies'])} managed policies, "
               f"{len(iam['statements'])} statement grants):")
    lines = [f"  {m['principal']}: managed policy {m['arn']}" for m in iam["managed_policies"]]
    lines += [f"  {g['principal']}: {g['effect']} {g['action']} on {g['resource']}" for g in iam["statements"]]
    click.echo("\n".join(printable(line) for line in lines) or "  none")


def _report(session, label: str) -> None:
    if session.status == "failed":
        where = f" at {session.failing_resource}" if session.failing_resource else ""
        click.secho(printable(f"{label}Session {session.id} failed{where}: {session.failure_reason}"), fg="red",
                    err=True)
        click.echo(f"Clean up with: aws-research-wizard sessions destroy {session.id}")
        return
    if session.status == "launching":
        click.echo(printable(f"{label}Session {session.id} is launching ({session.status_reason or 'stack being created'}). "
                             f"Resume with: aws-research-wizard sessions resume {session.id}"))
        return
    click.echo(f"{label}Session {session.id} is {session.status}.")
    show_session(session, False)


deploy.add_command(sessions)


def main() -> None:
    """The standalone ``aws-research-wizard-deploy`` program."""
    from registry_tools.cli.main import CONTEXT

    deploy.context_settings = CONTEXT
    deploy(prog_name="aws-research-wizard-deploy")
