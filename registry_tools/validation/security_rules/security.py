"""Our own cfn-lint rules: thin adapters over ``registry_tools.security``.

The rules themselves (E91xx/W91xx, judged on the template's effective
configuration) live in ``registry_tools.security``, a pure module the client
runs without cfn-lint and the diff compares between versions. Here each rule
id of ``RULES`` becomes a ``CloudFormationLintRule`` (loaded into cfn-lint's
rule set with ``append_rules``, this directory) that reports the findings of
its id at their ``path``, so cfn-lint attaches line numbers. The template is
judged once, by whichever rule runs first, and the result reused by the others.
Ids live in the E91xx/W91xx range so they never collide with cfn-lint's own
rules or with rules-file custom rules (E/W 9000 + line); ``cfn.CfnLinter``
makes them mandatory, so a template cannot silence them.
"""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from registry_tools.security import RULES, SecurityFinding, check_template

_LAST: list[Any] = [None, ()]  # the template judged last (held, so its id cannot be reused) and its findings


def findings_for(template: Any) -> tuple[SecurityFinding, ...]:
    """The security findings of *template* (cfn-lint's decoded template), computed once per template."""
    if _LAST[0] is not template:
        _LAST[0], _LAST[1] = template, tuple(check_template(template))
    return _LAST[1]


def _match(self: CloudFormationLintRule, cfn: Any) -> list[RuleMatch]:
    return [RuleMatch(list(finding.path), f"{finding.message} (fix: {finding.fix})")
            for finding in findings_for(cfn.template) if finding.rule == self.id]


def _rule_class(rule_id: str) -> type[CloudFormationLintRule]:
    info = RULES[rule_id]
    return type(f"Rule{rule_id}", (CloudFormationLintRule,), {
        "__module__": __name__,
        "__doc__": info.description,
        "id": rule_id,
        "shortdesc": info.title,
        "description": info.description,
        "tags": ["security", "arw"],
        "match": _match,
    })


# One class per rule id, found by cfn-lint's plugin loader (it instantiates every rule class of this module).
for _rule_id in RULES:
    globals()[f"Rule{_rule_id}"] = _rule_class(_rule_id)
del _rule_id
