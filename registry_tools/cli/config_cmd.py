"""``config``: where the tool keeps its state and what it is configured with."""

from __future__ import annotations

import contextlib

import click

from registry_tools.cli import options
from registry_tools.cli.client_common import allow_insecure_option, index_options, load_catalog
from registry_tools.cli.output import Group, UserError, command_now, console, emit_json
from registry_tools.cli.report import notifier
from registry_tools.textsafe import printable, printable_lines


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
def config() -> None:
    """Show and manage the client's configuration and state directory."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def show(as_json: bool) -> None:
    """Show the state directory, config file and bundled price table."""
    import os

    from registry_tools import __version__
    from registry_tools.paths import STATE_DIR_ENV, state_dir
    from registry_tools.pricing.catalogue import Catalogue

    home = state_dir()
    catalogue = Catalogue.load()
    info = {
        "version": __version__,
        "state_dir": str(home),
        "state_dir_source": STATE_DIR_ENV if os.environ.get(STATE_DIR_ENV) else "default",
        "state_dir_exists": home.is_dir(),
        "config_file": str(home / "config.yaml"),
        "price_table_date": catalogue.price_date,
        "price_table_instance_types": len(catalogue.instances),
        "regions": list(catalogue.regions),
    }
    if as_json:
        emit_json(info)
        return
    width = max(len(k) for k in info)
    for key, value in info.items():
        click.echo(f"{key.replace('_', ' '):<{width}}  {value}")


@config.group("registries")
def registries() -> None:
    """Registries packs are installed from, and how each is trusted."""


@registries.command("add")
@click.argument("name")
@click.argument("location")
@click.option("--trust-key", "trust_key", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="Trust index and archives signed by this Ed25519 public key (repeatable).")
@click.option("--trust-identity", help="Trust sigstore signatures by this identity (a value ending in / or "
                                       "@refs/tags/ is a prefix).")
@click.option("--trust-issuer", help="The OIDC issuer of --trust-identity.")
def registries_add(name: str, location: str, trust_key: tuple[str, ...], trust_identity: str | None,
                   trust_issuer: str | None) -> None:
    """Add registry NAME at LOCATION (https://, http://, file:// URL or a directory)."""
    from registry_tools.client import settings
    from registry_tools.signing.trust import anchor_from_options

    anchor = anchor_from_options(trust_key, trust_identity, trust_issuer)  # TrustAnchorError: exit 2
    registry = settings.add_registry(name, location, anchor)
    click.echo(printable(f"Added registry {registry.name} at {registry.location}, trusting {anchor.describe()}."))
    warning = settings.plain_http_warning(registry)
    if warning:
        click.secho(f"warning: {printable(warning)}", err=True, fg="yellow")


@registries.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def registries_list(as_json: bool) -> None:
    """List the configured registries in the order they are searched."""
    from registry_tools.client import settings

    config = settings.load()
    if as_json:
        emit_json([r.to_dict() for r in config.registries])
        return
    for registry in config.registries:
        click.echo(printable(f"{registry.name:<16} {registry.location}  (trust: {registry.trust.describe()})"))


@registries.command("remove")
@click.argument("name")
def registries_remove(name: str) -> None:
    """Remove registry NAME (installed packs stay installed)."""
    from registry_tools.client import settings

    registry = settings.remove_registry(name)
    click.echo(f"Removed registry {registry.name} ({registry.location}).")


def _pins(action, *args):
    """Run a pins function; an unreadable pins.yaml becomes a clear error."""

    return action(*args)


def _summary(entry) -> dict:
    return {"name": entry.name, "title": entry.title, "latest_version": entry.latest_version,
            "trust": entry.trust, "trust_level": entry.trust_level, "registry": entry.registry,
            "description": entry.entry.get("description", ""), "categories": entry.entry.get("categories", []),
            "shadowed_in": list(entry.shadowed)}


@config.command("browse")
@index_options
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def browse(registry_name, refresh, offline, allow_expired, as_json) -> None:
    """Official and community packs, with version, trust level and a one-line description."""
    catalog, _ = load_catalog(registry_name, refresh, offline, allow_expired, quiet=as_json)
    entries = catalog.sorted()
    if as_json:
        emit_json({"official": [_summary(e) for e in entries if e.trust == "official"],
                   "community": [_summary(e) for e in entries if e.trust == "community"]})
        return
    from rich.table import Table
    from rich.text import Text

    out = console()
    for trust, heading in (("official", "Official packs"), ("community", "Community packs")):
        rows = [e for e in entries if e.trust == trust]
        if not rows:
            continue
        table = Table(title=f"{heading} ({len(rows)})", title_justify="left")
        for column in ("Pack", "Version", "Trust", "Registry"):
            table.add_column(column, no_wrap=True)
        table.add_column("Description", no_wrap=True, overflow="ellipsis", max_width=70)
        for e in rows:  # Text cells: the index's text is neither rich markup nor terminal control sequences
            table.add_row(*(Text(printable(value)) for value in (e.name, e.latest_version, e.trust_level, e.registry,
                                                                 e.entry.get("description", ""))))
        out.print(table)


@config.command("search")
@options.click_params(options.SEARCH)
def search_cmd(query, registry_name, refresh, offline, allow_expired, limit, as_json) -> None:
    """Search packs by name, title, description and categories (tolerates small typos)."""
    from registry_tools.cli.fast_search import NO_MATCH, render
    from registry_tools.client import search_cache, settings
    from registry_tools.client.search import SearchIndex

    config_text = settings.config_text()
    catalog, loaded = load_catalog(registry_name, refresh, offline, allow_expired, quiet=as_json)
    entries = catalog.sorted()
    index = SearchIndex([(e.name, e.entry, e.trust) for e in entries])
    hits = index.search(query, limit)
    complete = not catalog.failures and not any(item.notice or item.trusted.expired for item in loaded)
    if complete and settings.config_text() == config_text:  # the snapshot says what it was made from
        with contextlib.suppress(OSError):  # only a cache: the next search reads the indexes again
            search_cache.save(search_cache.selection_name(registry_name), config_text,
                              settings.load().update_interval_hours,
                              [(item.registry.name, item.digest, item.trusted.expires) for item in loaded],
                              index, [e.registry for e in entries])
    if not hits and not as_json:
        click.echo(NO_MATCH.format(query=query))
        raise SystemExit(1)
    click.echo(render(hits, {h.name: catalog.get(h.name).registry for h in hits}, as_json))


@config.command("info")
@click.argument("spec", metavar="NAME[@VERSION]")
@index_options
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def info(spec, registry_name, refresh, offline, allow_expired, as_json) -> None:
    """Versions with dates, sizes with instance type and monthly cost, regions, maintainers and trust."""
    catalog, loaded = load_catalog(registry_name, refresh, offline, allow_expired, quiet=as_json)
    name, _, version = spec.partition("@")
    entry = catalog.get(name)
    if entry is None:
        raise UserError(f"no pack named {name!r} in {', '.join(catalog.signers) or 'the configured registries'}; "
                        "try `aws-research-wizard config search`")
    version = version or entry.latest_version
    release = entry.entry.get("releases", {}).get(version)
    if release is None:
        raise UserError(f"{name} has no version {version} in registry {entry.registry} "
                        f"(versions: {', '.join(entry.entry.get('versions', []))})")
    data = {
        "name": name, "title": entry.title, "version": version, "latest_version": entry.latest_version,
        "registry": entry.registry, "trust": entry.trust, "trust_level": entry.trust_level,
        "signed_by": catalog.signers.get(entry.registry), "maintainers": entry.entry.get("maintainers", []),
        "categories": entry.entry.get("categories", []), "description": entry.entry.get("description", ""),
        "versions": [{"version": v, "created": r.get("created"), "prerelease": r.get("prerelease", False)}
                     for v, r in entry.entry.get("releases", {}).items()],
        "regions": release.get("regions", []), "default_size": release.get("default_size"),
        "sizes": release.get("sizes", {}), "cost_assumptions": release.get("cost_assumptions", {}),
        "checksum": release.get("checksum"), "shadowed_in": list(entry.shadowed),
        "security": _security_status(name, version),
    }
    if as_json:
        emit_json(data)
        return

    def say(line: str) -> None:  # every line holds the index's text
        click.echo(printable(line))

    click.secho(printable(f"{name} {version} - {entry.title}"), bold=True)
    say(data["description"])
    say(f"Trust: {entry.trust} ({entry.trust_level}), from registry {entry.registry}, "
        f"index signed by {data['signed_by']}")
    if entry.shadowed:
        say(f"Also offered by (ignored, later in the registry order): {', '.join(entry.shadowed)}")
    say("Maintainers: " + ", ".join(str(m.get("name", "")) for m in data["maintainers"]))
    say("Versions: " + ", ".join(f"{v['version']} ({(v['created'] or '')[:10]})" for v in data["versions"]))
    say(f"Regions: {', '.join(map(str, data['regions']))}")
    say(f"Security: {data['security']}")
    assumptions = data["cost_assumptions"]
    say(f"Sizes (monthly USD, {assumptions.get('hours_per_month', 0):g} h in {assumptions.get('region')}, "
        f"prices of {assumptions.get('price_date')}):")
    for size_name, size in data["sizes"].items():
        marker = " (default)" if size_name == data["default_size"] else ""
        gpus = f", {size['gpus']} GPU" if size.get("gpus") else ""
        say(f"  {size_name:<12} {size['instance_type']:<16} {size['vcpus']} vCPU, {size['memory_gib']:g} GiB"
            f"{gpus}, {size['storage_gib']} GiB disk  ${size['monthly_usd']:,.2f}{marker}")


def _security_status(name: str, version: str) -> str:
    """The install/deploy security policy's verdict on an installed version's template; for one that
    is not installed, when it is judged."""
    from registry_tools.client import policy
    from registry_tools.client.install import installed_dir, read_receipt
    from registry_tools.packs.errors import PackError
    from registry_tools.packs.loader import load_pack_files

    path = installed_dir(name, version)
    receipt = read_receipt(path)
    if receipt is None:
        return "judged by the security rules when installed and again when deployed (not installed)"
    try:
        template = load_pack_files(path).template
    except PackError:
        return "the installed copy cannot be read; run `config validate` (reinstall it)"
    return policy.judge(template, receipt.allowed_insecure or ()).summary()


@config.command("install")
@options.click_params(options.INSTALL)
@allow_insecure_option
def install_cmd(spec, registry_name, refresh, offline, allow_expired, allow_insecure, as_json) -> None:
    """Install a pack: NAME (highest stable), NAME@1.2.0, or a constraint such as NAME@^1.2, NAME@~1.2
    or 'NAME@>=1.1,<2'. The archive's checksum and signature are verified before anything is unpacked,
    and its template must pass the security rules of `registry validate` (--allow-insecure RULE_ID to
    accept a failing rule)."""
    from registry_tools.client.requests import install_spec

    click.echo(install_spec(spec, registry_name, now=command_now(), refresh=refresh, offline=offline,
                            allow_expired=allow_expired, as_json=as_json, notify=notifier(as_json),
                            allow_insecure=allow_insecure))


@config.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def list_installed(as_json: bool) -> None:
    """Installed packs with their version and registry."""
    from registry_tools.client.install import installed

    receipts = installed()
    if as_json:
        emit_json([r.to_dict() for r in receipts])
        return
    if not receipts:
        click.echo("No packs installed. Install one with: aws-research-wizard config install NAME")
        return
    for r in receipts:
        click.echo(printable(f"{r.name:<26} {r.version:<10} {r.registry:<12} installed {r.installed_at}"))


@config.command("diff")
@click.argument("old", metavar="NAME@A")
@click.argument("new", metavar="NAME@B")
@index_options
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def diff_cmd(old, new, registry_name, refresh, offline, allow_expired, as_json) -> None:
    """What changes for you between two versions of a pack: resources, IAM actions, security-relevant
    changes (ports, encryption), parameters, sizes and monthly cost. Versions are fetched and verified
    like `install` (installed copies are used when present)."""
    from registry_tools.client.install import install, installed_dir, read_receipt
    from registry_tools.diff.versions import diff_packs, render_text
    from registry_tools.packs.errors import PackError
    from registry_tools.packs.loader import load_pack_files

    specs = []
    for spec in (old, new):
        name, _, version = spec.partition("@")
        if not version:
            raise click.BadParameter(f"{spec!r}: name both versions as NAME@VERSION", param_hint="NAME@A NAME@B")
        specs.append((name, version))
    catalog = loaded = None
    packs = []
    for name, version in specs:
        path = installed_dir(name, version)
        if read_receipt(path) is None:
            if catalog is None or loaded is None:
                catalog, loaded = load_catalog(registry_name, refresh, offline, allow_expired, quiet=as_json)
            install(catalog, loaded, name, version, now=command_now(),
                    warn=lambda line: notifier(as_json)("insecure", line))
        try:
            packs.append(load_pack_files(path))
        except PackError as exc:
            raise UserError(f"installed {name} {version} does not load:\n{exc}") from None
    result = diff_packs(packs[0], packs[1])
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(printable_lines(render_text(result)))  # resource names, actions, ... from the packs


@config.command("pin")
@click.argument("spec", metavar="NAME@VERSION")
@index_options
def pin_cmd(spec, registry_name, refresh, offline, allow_expired) -> None:
    """Hold NAME at VERSION and its archive digest: `update` will not move it and `install` checks the digest."""
    from registry_tools.client import pins
    from registry_tools.client.install import installed_dir, read_receipt

    name, _, version = spec.partition("@")
    if not version:
        raise click.BadParameter("pin needs NAME@VERSION", param_hint="NAME@VERSION")
    receipt = read_receipt(installed_dir(name, version))
    if receipt is not None:
        sha256 = receipt.sha256
    else:
        catalog, _ = load_catalog(registry_name, refresh, offline, allow_expired)
        entry = catalog.get(name)
        release = entry.entry.get("releases", {}).get(version) if entry else None
        if release is None:
            raise UserError(f"{name} {version} is neither installed nor offered by the configured registries")
        sha256 = str(release["checksum"]).removeprefix("sha256:")
    pinned = _pins(pins.pin, name, version, sha256)
    click.echo(f"Pinned {pinned.name} at {pinned.version} (sha256 {pinned.sha256[:12]}...).")


@config.command("unpin")
@click.argument("name")
def unpin_cmd(name) -> None:
    """Let `update` move NAME again."""
    from registry_tools.client import pins

    removed = _pins(pins.unpin, name)
    click.echo(f"Unpinned {name} (was {removed.version})." if removed else f"{name} was not pinned.")


def _plan(registry_name, refresh, offline, allow_expired, quiet):
    from registry_tools.client import pins
    from registry_tools.client.install import installed
    from registry_tools.client.updates import plan

    catalog, loaded = load_catalog(registry_name, refresh, offline, allow_expired, quiet=quiet)
    return plan(installed(), catalog, _pins(pins.load)), catalog, loaded


@config.command("outdated")
@index_options
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def outdated_cmd(registry_name, refresh, offline, allow_expired, as_json) -> None:
    """Installed packs with newer versions available."""
    updates, _, _ = _plan(registry_name, refresh, offline, allow_expired, as_json)
    rows = [u for u in updates if u.newer]
    if as_json:
        emit_json([{"name": u.name, "installed": u.installed, "available": u.available, "pinned": u.pinned,
                    "registry": u.registry} for u in rows])
        return
    if not rows:
        click.echo("All installed packs are up to date.")
    for u in rows:
        note = f" (pinned at {u.pinned})" if u.pinned else ""
        click.echo(printable(f"{u.name:<26} {u.installed} -> {u.available}{note}"))


@config.command("update")
@click.argument("name", required=False)
@click.option("--all", "update_all", is_flag=True, help="Update every installed pack.")
@index_options
def update_cmd(name, update_all, registry_name, refresh, offline, allow_expired) -> None:
    """Update NAME (or --all) to the highest stable version its pin allows; prints NAME vA -> vB."""
    from registry_tools.client.install import InstallError, install

    if bool(name) == update_all:
        raise click.UsageError("give a pack NAME or --all")
    updates, catalog, loaded = _plan(registry_name, refresh, offline, allow_expired, False)
    if name:
        updates = [u for u in updates if u.name == name]
        if not updates:
            raise UserError(f"{name} is not installed; install it with: aws-research-wizard config install {name}")
    failed = False
    for u in updates:
        if u.pinned and u.newer:
            click.echo(printable(f"{u.name} pinned at {u.pinned}; {u.available} is available (unpin to update)"))
            continue
        if u.target is None:
            click.echo(printable(f"{u.name} v{u.installed} is up to date"))
            continue
        try:
            install(catalog, loaded, u.name, u.target, now=command_now(),
                    warn=lambda line: notifier(False)("insecure", line))
        except InstallError as exc:
            click.secho(printable_lines(f"{u.name}: {exc}"), err=True, fg="red")
            failed = True
            continue
        click.echo(printable(f"{u.name} v{u.installed} -> v{u.target}"))
    if failed:
        raise SystemExit(1)


@config.command("validate")
@click.argument("spec", metavar="NAME[@VERSION]")
@click.option("--no-lint", is_flag=True, help="Skip the template lint (faster).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def validate_installed(spec, no_lint, as_json) -> None:
    """Re-check an installed pack: files against the receipt, schema, current costs, template lint."""
    from registry_tools.cli.extras import LINT_MODULES, MAINTAINER, require_extra
    from registry_tools.client.checks import check_installed
    from registry_tools.client.install import installed, installed_dir

    if not no_lint:
        require_extra(LINT_MODULES, MAINTAINER, "`config validate` lints the template with cfn-lint",
                      "or pass --no-lint")
    name, _, version = spec.partition("@")
    if not version:
        from registry_tools.packs.semver import Version

        versions = [Version.parse(r.version) for r in installed() if r.name == name]
        if not versions:
            raise UserError(f"{name} is not installed")
        version = str(max(versions, key=lambda v: v._key()))
    results = check_installed(installed_dir(name, version), lint=not no_lint)
    if as_json:
        emit_json({"name": name, "version": version, "ok": all(r.ok for r in results),
                   "checks": [r.to_dict() for r in results]})
    else:
        click.echo(f"{name} {version}")
        for r in results:
            mark = click.style("pass", fg="green") if r.ok else click.style("FAIL", fg="red")
            click.echo(f"  {mark}  " + printable_lines(f"{r.name}: {r.detail}"))
    if not all(r.ok for r in results):
        raise SystemExit(1)


@config.command("mirror")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.argument("names", nargs=-1)
@index_options
def mirror_cmd(out_dir, names, registry_name, refresh, offline, allow_expired) -> None:
    """Export a registry's signed index, archives and signatures (only NAMES' archives when given) to OUT_DIR,
    for an air-gapped site to add as a registry with the same trust anchor."""
    from pathlib import Path

    from registry_tools.client.index_store import index_location
    from registry_tools.fetch.dist import download_dist
    from registry_tools.fetch.interface import FetchError

    _, loaded = load_catalog(registry_name, refresh, offline, allow_expired)
    if len(loaded) != 1:
        raise UserError("several registries are configured; choose one with --registry NAME")
    item = loaded[0]
    if names:
        unknown = [n for n in names if n not in item.index["domains"] and n not in item.index["community_packs"]]
        if unknown:
            raise UserError(f"registry {item.registry.name} has no pack(s): {', '.join(unknown)}")
    try:
        download_dist(index_location(item.registry), Path(out_dir), item.fetcher, names=set(names) if names else None)
    except FetchError as exc:
        raise UserError(f"mirror failed: {exc}") from None
    click.echo(f"Mirrored registry {item.registry.name} (serial {item.trusted.serial}) to {out_dir}; add it elsewhere with:")
    click.echo(f"  aws-research-wizard config registries add {item.registry.name}-mirror {Path(out_dir).resolve()} "
               f"<same --trust-key / --trust-identity as {item.registry.name}>")
