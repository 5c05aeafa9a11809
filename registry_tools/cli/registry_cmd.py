"""``registry``: maintainer commands over a source tree of packs (``domains/``)."""

from __future__ import annotations

from pathlib import Path

import click

from registry_tools.cli.output import Group, UserError, command_now, console, emit_json, profile_option

DOMAINS_HELP = "The packs' source tree (default: the nearest domains/ at or above the current directory)."


def resolve_domains_dir(value: Path | None, *, create: bool = False) -> Path:
    """--domains-dir, else the nearest domains/ at or above the current directory; with *create*
    (`registry new`), a directory that does not exist yet: the one given, or ./domains."""
    from registry_tools.paths import find_repo_root

    if value is not None:
        if not value.is_dir() and not (create and not value.exists()):
            raise UserError(f"--domains-dir {value} is not a directory")
        return value
    root = find_repo_root()
    if root is None and create:
        return Path.cwd() / "domains"
    if root is None:
        raise UserError("no domains/ directory found here or above; run inside the aws-research-wizard "
                        "repository or another tree of packs (`registry new NAME` starts one here), or pass "
                        "--domains-dir PATH")
    return root / "domains"


domains_option = click.option(
    "--domains-dir", type=click.Path(path_type=Path, file_okay=False), default=None, help=DOMAINS_HELP
)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
def registry() -> None:
    """Maintainer tools: list, validate, create and version domain packs."""


@registry.command("list")
@domains_option
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def list_packs(domains_dir: Path | None, as_json: bool) -> None:
    """List every pack with its versions, trust and default-size monthly cost.

    Every version is loaded and schema-checked; packs that fail to load are
    reported with file:line and make the command exit 1.
    """
    from registry_tools.packs.errors import PackError
    from registry_tools.packs.loader import load_pack
    from registry_tools.packs.repository import discover
    from registry_tools.pricing.catalogue import Catalogue, PriceError
    from registry_tools.pricing.cost import size_monthly_cost

    domains = resolve_domains_dir(domains_dir)
    catalogue = Catalogue.load()
    entries: list[dict] = []
    problems: list[str] = []
    for source in discover(domains):
        loaded = []
        for _, path in source.versions:
            try:
                loaded.append(load_pack(path))
            except PackError as exc:
                problems.extend(str(p) for p in exc.problems)
        if not loaded:
            continue
        latest_version = source.latest[0]
        latest = next((p for p in loaded if p.version == latest_version), loaded[-1])
        size = latest.default
        try:
            monthly = round(size_monthly_cost(catalogue, latest, size), 2)
        except PriceError:
            monthly = None
        entries.append({
            "name": source.name,
            "title": latest.title,
            "trust": source.trust,
            "latest_version": str(latest.version),
            "versions": [str(p.version) for p in loaded],
            "categories": list(latest.categories),
            "default_size": size.name,
            "instance_type": size.instance_type,
            "monthly_usd": monthly,
            "cost_region": latest.cost_estimate.region,
            "hours_per_month": latest.cost_estimate.hours_per_month,
            "path": str(source.directory),
        })
    if as_json:
        emit_json({"packs": entries, "errors": problems})
    else:
        _print_catalog(entries)
        for line in problems:
            click.secho(line, err=True, fg="red")
    if problems:
        raise SystemExit(1)


def _print_catalog(entries: list[dict]) -> None:
    from rich.table import Table
    from rich.text import Text

    from registry_tools.textsafe import printable

    out = console()
    for trust, heading in (("official", "Official packs"), ("community", "Community packs")):
        rows = [e for e in entries if e["trust"] == trust]
        if not rows:
            continue
        table = Table(title=f"{heading} ({len(rows)})", title_justify="left", show_lines=False)
        table.add_column("Pack", style="bold")
        table.add_column("Latest")
        table.add_column("Versions")
        table.add_column("Default size")
        table.add_column("Monthly USD", justify="right")
        table.add_column("Title")
        for e in rows:
            cost = f"{e['monthly_usd']:,.2f}" if e["monthly_usd"] is not None else "n/a"
            table.add_row(*(Text(printable(cell)) for cell in (  # pack text: no markup, no control sequences
                e["name"], e["latest_version"], ", ".join(e["versions"]), f"{e['default_size']} ({e['instance_type']})",
                cost, e["title"])))
        out.print(table)
    if entries:
        out.print("Monthly cost: default size, on-demand, always on (730 h) unless the pack says otherwise, "
                  "plus gp3 storage, in the pack's cost region.", style="dim")
    else:
        out.print("No packs found.")


@registry.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, exists=True))
@domains_option
@click.option("--changed-since", "changed_since", metavar="GIT_REF",
              help="Only packs with files changed since GIT_REF (committed, staged, unstaged or untracked); every "
                   "pack when something all packs depend on changed (price table, schemas/, registry_tools/, "
                   "templates/, pyproject.toml, requirements/).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]), default="text",
              show_default=True, help="Report format: readable text, JSON, SARIF 2.1.0 or GitHub annotations.")
@click.option("--jobs", "-j", type=click.IntRange(0, 64), default=0,
              help="Check this many pack versions in parallel (default 0 = one per CPU, at most 4).")
@click.option("--no-cache", is_flag=True, help="Re-check every pack instead of reusing results for unchanged ones.")
@click.option("--lint/--no-lint", default=True, show_default=True, help="Run cfn-lint and the security rules.")
def validate_cmd(paths: tuple[Path, ...], domains_dir: Path | None, changed_since: str | None, fmt: str,
                 jobs: int, no_cache: bool, lint: bool) -> None:
    """Validate packs: schema, consistency, prices, template, README, cfn-lint and security rules.

    PATHS may be pack version directories, pack directories or a domains/
    tree; with none, every pack under domains/ is checked. Exits 0 when there
    are no errors (warnings allowed), 1 when there are, 2 for usage errors.
    Prices come from the source tree's registry_tools/data/prices.json when it
    has one, else from the installed package.
    """
    from registry_tools.cli.extras import LINT_MODULES, MAINTAINER, require_extra
    from registry_tools.packs.repository import pack_version_dirs
    from registry_tools.paths import find_repo_root
    from registry_tools.pricing.catalogue import PRICE_FILE, repository_price_file
    from registry_tools.validation.cache import ResultCache
    from registry_tools.validation.pipeline import validate

    if lint:
        require_extra(LINT_MODULES, MAINTAINER, "`registry validate` lints templates with cfn-lint",
                      "or pass --no-lint")
    added: tuple[Path, ...] = ()
    notes: list[str] = []
    if changed_since:
        from registry_tools.validation import git_changes

        domains = resolve_domains_dir(domains_dir)
        project: Path | None = domains.parent
        try:
            found_changes = git_changes.changed_since(domains, changed_since)
        except git_changes.GitError as exc:
            raise UserError(f"--changed-since {changed_since}: {exc}") from None
        version_dirs, added = list(found_changes.changed), found_changes.added
        if reason := found_changes.every_pack_reason():
            notes.append(reason)
            version_dirs = pack_version_dirs(domains)
        if paths:
            wanted = {p.resolve() for target in paths for p in pack_version_dirs(target)}
            version_dirs = [d for d in version_dirs if d.resolve() in wanted]
    else:
        targets = list(paths) or [resolve_domains_dir(domains_dir)]
        roots = {find_repo_root(t if t.is_dir() else t.parent) for t in paths}
        project = (resolve_domains_dir(domains_dir).parent if domains_dir or not paths
                   else roots.pop() if len(roots) == 1 else None)
        version_dirs = []
        for target in targets:
            found = pack_version_dirs(target)
            if not found:
                raise click.BadParameter(f"{target} holds no pack (expected domain.yaml or v<semver>/ directories)",
                                         param_hint="PATHS")
            version_dirs.extend(found)

    price_file = repository_price_file(project)
    if price_file != PRICE_FILE and price_file.read_bytes() != PRICE_FILE.read_bytes():
        notes.append(f"prices from {price_file}, not from the installed package's table")
    for note in notes:
        # stdout stays a pure JSON/SARIF document; GitHub shows a notice in the run's summary
        click.echo(f"::notice::{note.replace('%', '%25')}" if fmt == "github" else f"note: {note}", err=fmt != "github")
    err = console(stderr=True)
    show_progress = fmt == "text" and err.is_terminal
    report = validate(version_dirs, lint=lint, today=command_now().date(), jobs=jobs, added=added,
                      cache=None if no_cache else ResultCache(), price_file=price_file,
                      progress=(lambda d: err.print(f"[dim]checking {d}[/dim]")) if show_progress else None)
    if fmt == "text":
        _print_report(report)
    else:
        from registry_tools import __version__
        from registry_tools.validation import formats

        click.echo({"json": formats.to_json, "github": formats.to_github}.get(fmt, lambda r: formats.to_sarif(r, __version__))(report))
    if report.errors:
        raise SystemExit(1)


def _print_report(report) -> None:
    # Plain lines, never wrapped: editors and grep parse "file:line: message".
    from registry_tools.textsafe import printable_lines

    by_pack: dict[tuple[str, str], list] = {}
    for finding in report.findings:
        by_pack.setdefault((finding.pack, finding.version), []).append(finding)
    for key in sorted(by_pack):
        click.secho(f"{key[0]} {key[1]}", bold=True)
        for f in by_pack[key]:
            where = f.where
            click.echo("  " + click.style(f.severity, fg="red" if f.severity == "error" else "yellow")
                       + printable_lines(f" [{f.rule}] {where}: {f.message}"))
    from registry_tools.validation.semantics import PRICE_TABLE

    clean = report.packs - len([key for key in by_pack if key[0] != PRICE_TABLE])
    summary = (f"Checked {report.packs} pack version(s): {report.errors} error(s), {report.warnings} warning(s)"
               f"{f', {clean} clean' if clean else ''}{f' ({report.cached} unchanged, from cache)' if report.cached else ''}.")
    click.secho(summary, fg="red" if report.errors else "green")


@registry.command("new")
@click.argument("name")
@click.option("--community", is_flag=True, help="Create under domains/community/ (community trust level).")
@click.option("--title", help="Human title (default: from NAME).")
@domains_option
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def new_cmd(name: str, community: bool, title: str | None, domains_dir: Path | None, as_json: bool) -> None:
    """Scaffold a new pack NAME at version 0.1.0 from templates/domain-template.

    The new pack is valid from the start (it passes `registry validate`);
    edit its domain.yaml, cloudformation.json and README.md for your field.
    Outside a source tree it creates ./domains/. The template is the source
    tree's templates/domain-template/ when it has one, else the package's.
    """
    from registry_tools.packs.scaffold import new_pack
    from registry_tools.paths import package_data

    domains = resolve_domains_dir(domains_dir, create=True)
    template_dir = domains.parent / "templates" / "domain-template"
    if not template_dir.is_dir():
        template_dir = package_data("templates", "domain-template")
    path = new_pack(domains, template_dir, name, community=community, title=title)
    if as_json:
        emit_json({"name": name, "version": "0.1.0", "path": str(path), "trust": "community" if community else "official"})
        return
    click.echo(f"Created {path}")
    click.echo("Next: edit domain.yaml, cloudformation.json and README.md, then run")
    click.echo(f"  aws-research-wizard registry validate {path}")


@registry.command("bump")
@click.argument("name")
@click.option("--major", "part", flag_value="major", help="Next major version (breaking changes).")
@click.option("--minor", "part", flag_value="minor", help="Next minor version (new features).")
@click.option("--patch", "part", flag_value="patch", help="Next patch version (fixes).")
@domains_option
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def bump_cmd(name: str, part: str | None, domains_dir: Path | None, as_json: bool) -> None:
    """Copy pack NAME's highest version to the next version and move `latest`.

    The version is rewritten in domain.yaml, the template and the README; the
    changelog is reset to a TODO entry for you to fill in.
    """
    from registry_tools.packs.scaffold import bump_pack

    if part is None:
        raise click.UsageError("choose one of --major, --minor or --patch")
    domains = resolve_domains_dir(domains_dir)
    bumped = bump_pack(domains, name, part)
    if as_json:
        emit_json({"name": name, "from": str(bumped.old), "to": str(bumped.new), "path": str(bumped.path)})
        return
    click.echo(f"{name} v{bumped.old} -> v{bumped.new}: created {bumped.path}; latest -> v{bumped.new}")
    click.echo("Next: describe the change in the changelog and README, then run")
    click.echo(f"  aws-research-wizard registry validate {bumped.path}")


def _source_version_dir(domains: Path, spec: str) -> Path:
    """NAME or NAME@VERSION in the source tree -> its version directory (default: latest stable)."""
    from registry_tools.packs.repository import find
    from registry_tools.packs.semver import Version

    name, _, version = spec.partition("@")
    try:
        source = find(domains, name)
    except KeyError:
        raise UserError(f"no pack named {name!r} under {domains}") from None
    if not version:
        return source.latest[1]
    try:
        return source.version_dir(Version.parse(version))
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from None


@registry.command("test-deploy")
@click.argument("spec", metavar="NAME[@VERSION]")
@click.option("--size", help="Size to deploy (default: the pack's default size).")
@click.option("--sandbox", "where", flag_value="sandbox", default=True,
              help="Deploy into the local AWS sandbox (default; started for the run if it is not running).")
@click.option("--aws", "where", flag_value="aws", help="Deploy into the AWS account of your current credentials (costs money).")
@click.option("--region", help="Region (default: the pack's cost region).")
@click.option("--timeout", type=click.IntRange(10, 7200), default=1800, show_default=True, help="Seconds to wait for each of create and delete.")
@profile_option
@domains_option
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def test_deploy_cmd(spec: str, size: str | None, where: str, region: str | None, timeout: int, profile: str | None,
                    domains_dir: Path | None, as_json: bool) -> None:
    """Create a pack's stack, wait for it, check its outputs, then delete it.

    Reports timings and the resources created; a failure (CREATE_FAILED,
    ROLLBACK_*, timeout) names the failing resource and reason. The stack is
    always deleted. Exits 0 when the deployment succeeded, 1 otherwise.
    """
    from registry_tools.aws.adapter import Target
    from registry_tools.aws.smoke import smoke_test
    from registry_tools.packs.errors import PackError
    from registry_tools.packs.loader import load_pack_files
    from registry_tools.sandbox import control

    version_dir = _source_version_dir(resolve_domains_dir(domains_dir), spec)
    try:
        loaded = load_pack_files(version_dir)
    except PackError as exc:
        raise UserError(f"the pack does not load; run `registry validate {version_dir}`:\n{exc}") from None
    try:
        chosen = loaded.pack.size(size) if size else loaded.pack.default
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from None
    region = region or loaded.pack.cost_estimate.region
    if region not in loaded.pack.regions:
        raise UserError(f"{loaded.pack.ref} is not offered in {region} (regions: {', '.join(loaded.pack.regions)})")

    started_here = False
    if where == "sandbox":
        _, started_here = control.start()
        target = control.target(region)
    else:
        target = Target(region=region, profile=profile or None)
    say = (lambda message: None) if as_json else (lambda message: click.echo(message, err=True))
    say(f"Deploying {loaded.pack.ref} size {chosen.name} ({chosen.instance_type}) to "
        f"{'the sandbox' if target.is_sandbox else 'AWS'} in {region} ...")
    try:
        report = smoke_test(loaded, chosen, target, timeout=timeout,
                            poll_seconds=0.2 if target.is_sandbox else 10.0,
                            on_status=lambda status: say(f"  {status}"))
    finally:
        if started_here:
            control.stop()
    if as_json:
        emit_json(report.to_dict())
    else:
        verdict = click.style("OK", fg="green") if report.ok else click.style("FAILED", fg="red")
        click.echo(f"{verdict} {report.pack} {report.version} ({report.size}) stack {report.stack}: {report.status}"
                   f" in {report.create_seconds:.1f} s")
        if report.reason:
            where_failed = f" at {report.failing_resource}" if report.failing_resource else ""
            click.echo(f"  reason{where_failed}: {report.reason}")
        if report.resources:
            click.echo(f"  {len(report.resources)} resources: " + ", ".join(f"{r['logical_id']} ({r['type']})" for r in report.resources))
        cleanup = (f"deleted in {report.delete_seconds:.1f} s" if report.cleaned_up
                   else f"NOT deleted: {report.cleanup_error} - delete stack {report.stack} by hand")
        click.echo(f"  cleanup: {cleanup}")
    if not report.ok or not report.cleaned_up:
        raise SystemExit(1)


@registry.command("changed")
@click.option("--since", "ref", required=True, metavar="GIT_REF", help="Compare the working tree with this ref.")
@domains_option
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def changed_cmd(ref: str, domains_dir: Path | None, as_json: bool) -> None:
    """List pack versions whose files changed since GIT_REF, one NAME@VERSION per line.

    Only the packs' own files count (CI test-deploys these). When something
    every pack depends on changed (the price table, schemas/, registry_tools/,
    ...) a note on stderr says so: `registry validate --changed-since` then
    checks every pack, and the test suite deploys every pack in moto.
    """
    from registry_tools.validation import git_changes

    domains = resolve_domains_dir(domains_dir)
    try:
        found = git_changes.changed_since(domains, ref)
    except git_changes.GitError as exc:
        raise UserError(f"--since {ref}: {exc}") from None
    if found.every_pack:
        click.echo(f"note: {found.every_pack_files()} changed, which affects every pack; listed here: only packs "
                   "whose own files changed", err=True)
    added = set(found.added)
    rows = [{"pack": d.parent.name, "version": d.name[1:], "path": str(d), "new": d in added} for d in found.changed]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['pack']}@{row['version']}")


@registry.group("prices")
def prices() -> None:
    """The dated instance and price table packs are priced against."""


@prices.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def prices_show(as_json: bool) -> None:
    """Show the price table: date, source and on-demand USD/hour per region."""
    from registry_tools.pricing.catalogue import Catalogue

    catalogue = Catalogue.load()
    if as_json:
        emit_json({"price_date": catalogue.price_date, "source": catalogue.source,
                   "ebs_gp3_usd_per_gb_month": dict(catalogue.ebs_gp3_usd_per_gb_month),
                   "instances": {n: {"vcpus": i.vcpus, "memory_gib": i.memory_gib, "gpus": i.gpus,
                                     "on_demand_usd_per_hour": dict(i.hourly_usd)} for n, i in catalogue.instances.items()}})
        return
    from rich.table import Table

    table = Table(title=f"Prices of {catalogue.price_date} (on-demand Linux, USD/hour)", title_justify="left")
    for column in ("Type", "vCPUs", "Memory GiB", "GPUs", *catalogue.regions):
        table.add_column(column, justify="left" if column == "Type" else "right")
    for name, spec in catalogue.instances.items():
        table.add_row(name, str(spec.vcpus), f"{spec.memory_gib:g}", str(spec.gpus) if spec.gpus else "",
                      *[f"{spec.hourly_usd[r]:.4f}" if r in spec.hourly_usd else "not sold" for r in catalogue.regions])
    out = console()
    out.print(table)
    out.print("gp3 USD/GB-month: " + ", ".join(f"{r} {p}" for r, p in catalogue.ebs_gp3_usd_per_gb_month.items()), style="dim")
    out.print(catalogue.source, style="dim")


@prices.command("refresh")
@click.option("--region", "regions", multiple=True, metavar="REGION",
              help="Regions to price (repeatable; default: the table's regions).")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Write here instead of the bundled table.")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@profile_option
def prices_refresh(regions: tuple[str, ...], output: Path | None, dry_run: bool, profile: str | None) -> None:
    """Rebuild the price table from the AWS Pricing API (needs AWS credentials with pricing:GetProducts).

    Keeps the same instance types, refreshes their specs and on-demand Linux
    prices per region and the gp3 price, stamps today's date and writes the
    file atomically.
    """
    import json

    from registry_tools.aws.adapter import AwsError, call
    from registry_tools.fsutil import atomic_write_text
    from registry_tools.pricing.catalogue import PRICE_FILE
    from registry_tools.pricing.price_list import build_table
    from registry_tools.pricing.pricing_api import fetch, pricing_client

    current = json.loads(PRICE_FILE.read_text(encoding="utf-8"))
    wanted = list(regions) or list(current["regions"])
    click.echo(f"Fetching prices for {len(current['instances'])} instance types in {', '.join(wanted)} ...", err=True)
    try:
        compute, storage = call(lambda: fetch(pricing_client(profile), list(current["instances"]), wanted,
                                              progress=lambda name: click.echo(f"  {name}", err=True)))
    except AwsError as exc:
        raise UserError(f"the AWS Pricing API failed: {exc} (it needs credentials allowed pricing:GetProducts)") from None
    today = command_now().date().isoformat()
    table, notes = build_table(current, compute, storage, wanted, today,
                               f"AWS Pricing API (GetProducts, on-demand Linux, shared tenancy), fetched {today}.")
    for note in notes:
        click.echo(note)
    if dry_run:
        click.echo(f"Dry run: {len(notes)} change(s); nothing written.")
        return
    target = output or PRICE_FILE
    atomic_write_text(target, json.dumps(table, indent=1) + "\n")
    click.echo(f"Wrote {target} ({len(notes)} change(s), dated {today}).")


@registry.command("build")
@domains_option
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("dist"), show_default=True,
              help="Output directory (replaced atomically).")
@click.option("--base-url", default="", help="URL the dist will be served from (default: URLs relative to the index).")
@click.option("--serial", type=click.IntRange(1), help="Index serial (default: the git commit count).")
@click.option("--expires-days", type=click.IntRange(1, 3650),
              help="Days the index stays valid after the build time (SOURCE_DATE_EPOCH or the HEAD commit)  [default: 30]")
@click.option("--expires", "expires_at", metavar="UTC_TIME",
              help="When the index expires, e.g. 2027-01-31T00:00:00Z (re-signing an unchanged registry: the "
                   "archives stay byte-identical).")
@click.option("--sign-key", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Sign with this Ed25519 private key (see `registry keygen`).")
@click.option("--sigstore", "use_sigstore", is_flag=True, help="Sign with sigstore keyless signing (CI with an OIDC token).")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
def build_cmd(domains_dir: Path | None, out: Path, base_url: str, serial: int | None, expires_days: int | None,
              expires_at: str | None, sign_key: Path | None, use_sigstore: bool, as_json: bool) -> None:
    """Build the registry: one deterministic archive per pack version, registry.yaml/.json, signatures.

    Every pack is validated first (results are cached); any error refuses the
    build and leaves OUT untouched. Dates come from git and the build time
    from SOURCE_DATE_EPOCH or the HEAD commit, so rebuilding a commit with the
    same options gives byte-identical output. The index expires --expires-days
    after the build time, or at --expires; a build whose index would already be
    expired says so.
    """
    from registry_tools.build.builder import DEFAULT_EXPIRES_DAYS, build
    from registry_tools.cli.extras import LINT_MODULES, MAINTAINER, require_extra
    from registry_tools.pricing.catalogue import repository_price_file
    from registry_tools.timefmt import parse_utc_or_date
    from registry_tools.validation.cache import ResultCache
    from registry_tools.validation.pipeline import validate

    if expires_at is not None and expires_days is not None:
        raise click.UsageError("choose one of --expires or --expires-days")
    expires = None
    if expires_at is not None:
        try:
            expires = parse_utc_or_date(expires_at)
        except ValueError:
            raise click.BadParameter(f"{expires_at!r} is not a UTC time like 2027-01-31T00:00:00Z or a date "
                                     "like 2027-01-31", param_hint="--expires") from None
    require_extra(LINT_MODULES, MAINTAINER, "`registry build` validates every pack with cfn-lint")
    from registry_tools.signing.factory import signer_for

    signer = signer_for(key=sign_key, sigstore=use_sigstore)
    domains = resolve_domains_dir(domains_dir)
    say = (lambda _: None) if as_json else (lambda message: click.echo(message, err=True))
    now = command_now()
    result = build(domains, out, base_url=base_url, serial=serial, signer=signer, now=now,
                   expires_days=DEFAULT_EXPIRES_DAYS if expires_days is None else expires_days, expires_at=expires,
                   validate_packs=lambda dirs: validate(dirs, lint=True, cache=ResultCache(), jobs=0,
                                                        today=now.date(),
                                                        price_file=repository_price_file(domains.parent)),
                   progress=say)
    for note in result.notes:
        say(f"note: {note}")
    for warning in result.warnings:
        click.secho(f"warning: {warning}", err=True, fg="yellow")
    summary = {"out": str(result.out), "archives": result.archives, "serial": result.index["serial"],
               "expires": result.index["expires"], "signing": result.index["signing"],
               "official": len(result.index["domains"]), "community": len(result.index["community_packs"]),
               "warnings": list(result.warnings)}
    if as_json:
        emit_json(summary)
    else:
        click.echo(f"Built {summary['archives']} archives for {summary['official']} official and "
                   f"{summary['community']} community packs in {result.out} "
                   f"(serial {summary['serial']}, expires {summary['expires']}, signing: {summary['signing']}).")


@registry.command("publish")
@click.argument("dist", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--to", "target", required=True, metavar="TARGET",
              help="github:OWNER/NAME (or github with --repo), s3://bucket/prefix, or a local directory.")
@click.option("--repo", metavar="OWNER/NAME", help="GitHub repository (with --to github).")
@click.option("--github-api-url", default="https://api.github.com", show_default=True,
              help="GitHub API root (GitHub Enterprise).")
@profile_option
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def publish_cmd(dist: Path, target: str, repo: str | None, github_api_url: str, profile: str | None,
                as_json: bool) -> None:
    """Publish a built DIST: archives and signatures first (never overwritten), the index last.

    github:OWNER/NAME: one release per pack version (tag NAME-vVERSION), token
    from GITHUB_TOKEN. s3://: create-only objects with cache headers. A directory:
    a plain copy for mirrors. Re-publishing identical files is a no-op.
    """
    import os

    from registry_tools.publish.factory import PublishOptions, publisher_for

    publisher = publisher_for(target, PublishOptions(repo=repo, github_token=os.environ.get("GITHUB_TOKEN"),
                                                     github_api_url=github_api_url, aws_profile=profile))
    report = publisher.publish(dist)
    if as_json:
        emit_json(report.to_dict())
        return
    click.echo(f"Published to {report.target}: {len(report.uploaded)} uploaded, {len(report.skipped)} already there.")


@registry.command("site")
@click.option("--registry", "dist", type=click.Path(path_type=Path, file_okay=False), default=Path("dist"),
              show_default=True, help="A built registry (the --out of `registry build`, holding registry.json).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where to write the site (default: REGISTRY/site; replaced only when the build succeeds).")
@click.option("--template", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="The site template: mkdocs.yml, overrides and hand-written pages (default: the package's, "
                   "linked from the repository's site/).")
@click.option("--serve", is_flag=True, help="After building, serve the site on 127.0.0.1 until interrupted.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port for --serve.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
def site_cmd(dist: Path, out: Path | None, template: Path | None, serve: bool, port: int, as_json: bool) -> None:
    """Build the static catalog site from a built registry with `mkdocs build --strict`.

    Pages: home with pack counts, a filterable catalog of every pack, and one
    page per pack with every version, its sizes and costs, install and deploy
    commands, its README and what changed from each previous version. Download links are relative to REGISTRY, so serve
    the site from inside the registry (the default --out) or next to it.
    """
    from registry_tools.cli.extras import MAINTAINER, SITE_MODULES, require_extra

    require_extra(SITE_MODULES, MAINTAINER, "`registry site` builds the site with mkdocs")
    from registry_tools.site.build import TEMPLATE_DIR, build_site

    try:
        result = build_site(dist, out, template_dir=template or TEMPLATE_DIR)
    except OSError as exc:
        raise UserError(f"cannot write the site: {exc}") from None
    if as_json:
        emit_json({"out": str(result.out), "packs": result.packs, "pages": result.pages,
                   "seconds": round(result.seconds, 2), "notes": result.notes})
    else:
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
        click.echo(f"Built the site for {result.packs} packs ({result.pages} pages) in {result.out} "
                   f"in {result.seconds:.1f} s.")
    if serve:
        _serve(result.out, port)


def _serve(directory: Path, port: int) -> None:
    import functools
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                                 functools.partial(Quiet, directory=str(directory)))
    except OSError as exc:
        raise UserError(f"cannot listen on 127.0.0.1:{port}: {exc} (try --port 0 for any free port)") from None
    click.echo(f"Serving {directory} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C to stop)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _register_signing_commands() -> None:
    from registry_tools.cli.signing_cmd import keygen_cmd, verify_cmd

    registry.add_command(keygen_cmd, "keygen")
    registry.add_command(verify_cmd, "verify")


_register_signing_commands()
