"""The security policy the client applies to a pack's template before installing it and again
before deploying it (packs installed earlier included).

A registry's signature says who published a pack, not that its template is safe: community and
private registries sign what they are given. So the client runs the validator's own rules
(``registry_tools.security``, pure, no cfn-lint) on the template itself. A finding at error level
refuses, naming the rule, the resource and the fix; ``--allow-insecure RULE_ID`` is the only way
past it, recorded in the install receipt or the session and warned about every time it is used.
Warning-level findings are shown, never refused. No I/O here: callers read the template.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from registry_tools.errors import ArwError

if TYPE_CHECKING:  # the rules are imported when a template is judged
    from registry_tools.security import SecurityFinding

ALLOW_OPTION = "--allow-insecure"


class InsecurePack(ArwError):
    """The template has error-level security findings that were not explicitly allowed."""


@dataclass(frozen=True)
class Verdict:
    """What the rules found in a template, split by what the policy does with each finding."""

    refused: tuple[SecurityFinding, ...]  # error-level findings not allowed: the pack must not be installed or deployed
    allowed: tuple[SecurityFinding, ...]  # error-level findings the user allowed by rule id: warned about every time
    warnings: tuple[SecurityFinding, ...]  # warning-level findings: shown

    @property
    def allowed_rules(self) -> tuple[str, ...]:
        """The allowed rule ids that actually matched (what a receipt or a session records)."""
        return tuple(sorted({f.rule for f in self.allowed}))

    def summary(self) -> str:
        """One line for `config info` / `config validate`: the security status of the template."""
        if not (self.refused or self.allowed or self.warnings):
            return "no findings (the security rules of `registry validate`)"
        parts: list[str] = []
        if self.refused:
            parts.append(f"{len(self.refused)} error(s): {', '.join(sorted({f.rule for f in self.refused}))}")
        if self.allowed:
            parts.append(f"{len(self.allowed)} allowed by {ALLOW_OPTION}: {', '.join(self.allowed_rules)}")
        if self.warnings:
            parts.append(f"{len(self.warnings)} warning(s): {', '.join(sorted({f.rule for f in self.warnings}))}")
        return "; ".join(parts)


def known_rules(rule_ids: Iterable[str]) -> tuple[str, ...]:
    """*rule_ids* normalised (upper case, sorted, unique); ``ValueError`` naming any that is not a rule."""
    from registry_tools.security import RULES

    wanted = sorted({r.strip().upper() for r in rule_ids if r.strip()})
    unknown = [r for r in wanted if r not in RULES]
    if unknown:
        raise ValueError(f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not a security rule "
                         f"(rules: {', '.join(sorted(RULES))})")
    return tuple(wanted)


def judge(template: Mapping[str, Any], allow: Iterable[str] = ()) -> Verdict:
    """The rules' findings on *template*, split into refused, allowed (by rule id) and warnings."""
    from registry_tools.security import ERROR, check_template

    allowed_ids = set(allow)
    findings = check_template(template) if isinstance(template, Mapping) else []
    errors = [f for f in findings if f.severity == ERROR]
    return Verdict(tuple(f for f in errors if f.rule not in allowed_ids),
                   tuple(f for f in errors if f.rule in allowed_ids),
                   tuple(f for f in findings if f.severity != ERROR))


def enforce(verdict: Verdict, what: str, action: str) -> None:
    """``InsecurePack`` listing every refused finding (rule, resource, problem, fix) and how to
    allow it; *what* names the pack, *action* is "install" or "deploy"."""
    if not verdict.refused:
        return
    lines = [f"{what}: refusing to {action}: its template fails the security rules "
             "(a registry's signature says who published it, not that it is safe):"]
    lines += [f"  {finding}" for finding in verdict.refused]
    rules = sorted({f.rule for f in verdict.refused})
    lines.append(f"Fix the template, or, if you accept the risk, {action} with "
                 + " ".join(f"{ALLOW_OPTION} {rule}" for rule in rules))
    raise InsecurePack("\n".join(lines))


def warnings_of(verdict: Verdict, what: str) -> list[str]:
    """The lines to print for allowed errors (every time they are used) and warning-level findings."""
    lines = [f"{what}: allowed by {ALLOW_OPTION} {finding.rule}: {finding}" for finding in verdict.allowed]
    lines += [f"{what}: {finding}" for finding in verdict.warnings]
    return lines
