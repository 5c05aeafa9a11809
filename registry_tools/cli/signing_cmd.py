"""``registry keygen`` and ``registry verify``: Ed25519 keys and checking a built dist's signatures."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from registry_tools.cli.output import Command, UserError, command_now, emit_json

if TYPE_CHECKING:
    from registry_tools.signing.trust import TrustAnchor


@click.command("keygen", cls=Command)
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def keygen_cmd(path: Path, as_json: bool) -> None:
    """Create an Ed25519 key pair for signing a registry: PATH (private) and PATH.pub (public).

    The private key is written with mode 0600 and never overwrites an existing
    file; keep it secret (for example as a CI secret) and sign with
    `registry build --sign-key PATH`. Publish PATH.pub or its fingerprint:
    users check a registry with `registry verify DIST --trust-key PATH.pub`.
    """
    from registry_tools.signing.keys import fingerprint, generate_keypair

    private, public = generate_keypair(path)
    fp = fingerprint(public.read_bytes())
    if as_json:
        emit_json({"private_key": str(private), "public_key": str(public), "fingerprint": fp})
        return
    click.echo(f"Private key: {private} (mode 0600; keep it secret)")
    click.echo(f"Public key:  {public}")
    click.echo(f"Fingerprint: {fp}")


@click.command("verify", cls=Command)
@click.argument("dist_dir", metavar="DIST_DIR")
@click.option("--trust-key", "trust_key", multiple=True, metavar="PUBLIC_KEY",
              type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Trust signatures by this Ed25519 public key (repeatable).")
@click.option("--trust-identity", metavar="IDENTITY",
              help="Trust sigstore signatures by this certificate identity; one ending with / or @refs/tags/ "
                   "is a prefix (e.g. https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/tags/).")
@click.option("--trust-issuer", metavar="ISSUER",
              help="The OIDC issuer of --trust-identity (GitHub Actions: https://token.actions.githubusercontent.com).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def verify_cmd(dist_dir: str, trust_key: tuple[Path, ...], trust_identity: str | None, trust_issuer: str | None,
               as_json: bool) -> None:
    """Check a built registry: the signature of registry.json, then every archive it lists.

    DIST may be a local directory or the URL the registry is served from (its
    files are downloaded under size caps first). Each archive must match the
    sha256 and size in registry.json and carry a valid signature by the
    trusted signer. Sigstore bundles are checked offline against the trusted
    root shipped with sigstore. Exits 0 when everything verifies, 1 on any
    failure.
    """
    import tempfile

    from registry_tools.signing.trust import anchor_from_options

    anchor = anchor_from_options(trust_key, trust_identity, trust_issuer)  # TrustAnchorError: exit 2

    with tempfile.TemporaryDirectory(prefix="arw-verify-") as scratch:
        if "://" in dist_dir:
            from registry_tools.fetch.dist import download_dist
            from registry_tools.fetch.http import FetchError

            try:
                root = download_dist(dist_dir, Path(scratch))
            except FetchError as exc:
                raise UserError(f"could not download the registry: {exc}") from None
        else:
            root = Path(dist_dir)
            if not root.is_dir():
                raise UserError(f"{root} is not a directory (expected a dist built by `registry build`)")
        _verify_and_report(root, anchor, as_json)


def _verify_and_report(root: Path, anchor: TrustAnchor, as_json: bool) -> None:
    from registry_tools.signing.dist_check import verify_dist

    try:
        report = verify_dist(root, anchor, now=command_now())
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None

    if as_json:
        emit_json(report.to_dict())
    else:
        from registry_tools.textsafe import printable, printable_lines  # names and errors quote the index

        click.echo(printable(f"Verifying {report.root} against {report.trust}"))
        for check in report.files:
            if check.ok:
                detail = "sha256 and size match registry.json, " if check.listed_as else ""
                click.echo(click.style("OK     ", fg="green") + printable(f" {check.file} ({detail}signed by {check.signer})"))
            else:
                click.echo(click.style("FAILED ", fg="red") + printable(f" {check.file}" +
                           (f" ({check.listed_as})" if check.listed_as else "")))
                for error in check.errors:
                    click.echo(printable_lines(f"    {error}"))
        for warning in report.warnings:
            click.echo(click.style("warning", fg="yellow") + printable_lines(f": {warning}"))
        failed = len(report.failed)
        if failed:
            click.secho(f"{failed} of {len(report.files)} file(s) failed verification.", fg="red")
        else:
            click.secho(f"All {len(report.files)} file(s) verified; signed by {', '.join(report.signers)}.",
                        fg="green")
    if not report.ok:
        raise SystemExit(1)
