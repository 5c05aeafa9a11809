"""`config validate NAME`: re-check an installed pack, one named check at a time.

Checks: the files are the ones the receipt recorded (and who signed them),
the pack matches the schema, its template passes the security policy of
install and deploy (rules allowed at install count as allowed), its cost
estimates are current against this release's price table, and its template
passes cfn-lint with our security rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


def check_installed(version_dir: Path, *, lint: bool = True) -> list[Check]:
    from registry_tools.client.install import file_digests, read_receipt
    from registry_tools.packs.errors import PackError
    from registry_tools.packs.loader import load_pack_files
    from registry_tools.pricing.catalogue import Catalogue
    from registry_tools.pricing.cost import check_estimates

    results: list[Check] = []
    receipt = read_receipt(version_dir)
    if receipt is None:
        return [Check("receipt", False, f"no install receipt in {version_dir}; reinstall the pack")]
    if receipt.files is None:
        results.append(Check("checksum", False, "the receipt records no file digests (installed by an older version); reinstall"))
    else:
        now = file_digests(version_dir)
        changed = sorted(k for k in set(now) | set(receipt.files) if now.get(k) != receipt.files.get(k))
        results.append(Check("checksum", not changed,
                             f"files match the receipt (archive sha256 {receipt.sha256[:12]}...)" if not changed
                             else "changed since install: " + ", ".join(changed)))
    results.append(Check("signature", bool(receipt.signer), f"verified at install: signed by {receipt.signer} "
                                                             f"(registry {receipt.registry})"))
    try:
        loaded = load_pack_files(version_dir)
    except PackError as exc:
        results.append(Check("schema", False, str(exc)))
        return results
    results.append(Check("schema", True, "domain.yaml matches the pack schema"))
    from registry_tools.client import policy

    verdict = policy.judge(loaded.template, receipt.allowed_insecure or ())
    results.append(Check("security", not verdict.refused, verdict.summary()
                         + "".join(f"; {f}" for f in verdict.refused[:5])))
    catalogue = Catalogue.load()
    mismatches = check_estimates(catalogue, loaded.pack, 0.10)
    results.append(Check("cost estimates current", not mismatches,
                         f"within 10% of the price table of {catalogue.price_date}" if not mismatches
                         else "; ".join(str(m) for m in mismatches)))
    if lint:
        from registry_tools.validation.cfn import CfnLinter

        linter = CfnLinter()
        try:
            findings = linter.lint(loaded.template_text, loaded.pack.regions, pack=loaded.pack.name,
                                   version=str(loaded.pack.version), file=loaded.template_file)
        finally:
            linter.close()
        errors = [f for f in findings if f.severity == "error"]
        results.append(Check("template lint", not errors,
                             f"cfn-lint and security rules: {len(findings)} finding(s), no errors" if not errors
                             else "; ".join(f"[{f.rule}] line {f.line}: {f.message}" for f in errors[:5])))
    return results
