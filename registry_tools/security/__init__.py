"""Security rules shared by the validator, the client and the diff.

``check_template(template)`` returns the ``SecurityFinding``s of a parsed
CloudFormation template, judged on its effective configuration
(``effective``); ``RULES`` names every rule id (E91xx errors, W91xx warnings)
with its title, severity and fix; ``inbound(template)`` lists the inbound
permissions the way the ingress rules read them (for ``config diff``). Pure:
no I/O, no cfn-lint, standard library only, so the researcher's install
(without the ``maintainer`` extra) runs the same rules as ``registry validate``.
"""

from registry_tools.security.rules import (
    ERROR,
    RULES,
    WARNING,
    Inbound,
    RuleInfo,
    SecurityFinding,
    check_template,
    errors,
    inbound,
)

__all__ = ["ERROR", "RULES", "WARNING", "Inbound", "RuleInfo", "SecurityFinding", "check_template", "errors", "inbound"]
