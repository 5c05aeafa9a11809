"""cfn-lint as a library, with one reused rule set for a whole run.

``cfnlint.api.lint()`` reloads every rule on each call; building one
``Runner`` and passing its rules to ``run_template_by_data`` loads them once.
Our own security rules (E91xx/W91xx, ``security_rules/``, adapters over
``registry_tools.security``) are appended to cfn-lint's. A template cannot
silence checks: ``mandatory_checks`` lists every rule prefix, and an explicit
empty config file shipped in the package (``data/cfnlintrc.json``) stops a
``.cfnlintrc`` in the working or home directory from being read. Nothing is
written anywhere: no temporary file, so nothing is left behind by a killed run
or a worker process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from registry_tools.paths import package_data
from registry_tools.validation.findings import ERROR, WARNING, Finding

MAX_MESSAGE = 600
SECURITY_RULES_DIR = Path(__file__).resolve().parent / "security_rules"
EMPTY_CONFIG = package_data("data", "cfnlintrc.json")


class CfnLinter:
    def __init__(self) -> None:
        from cfnlint.config import ConfigMixIn
        from cfnlint.runner import Runner

        self._config_cls = ConfigMixIn
        self._runner = Runner(self._config([]))
        self._configs: dict[tuple[str, ...], Any] = {}

    def _config(self, regions: list[str]):
        return self._config_cls(
            ["--config-file", str(EMPTY_CONFIG), "--append-rules", str(SECURITY_RULES_DIR)],
            regions=regions or ["us-east-1"],
            mandatory_checks=["E", "W"],
        )

    def lint(self, template_text: str, regions: list[str] | tuple[str, ...], *, pack: str, version: str, file: str) -> list[Finding]:
        from cfnlint.decode.decode import decode_str
        from cfnlint.runner import run_template_by_data

        template, errors = decode_str(template_text)
        matches = list(errors or [])
        if template is not None and not errors:
            key = tuple(sorted(regions))
            if key not in self._configs:
                self._configs[key] = self._config(list(key))
            matches = list(run_template_by_data(template, self._configs[key], self._runner.rules))
        findings = []
        for match in matches:
            rule_id = match.rule.id
            severity = ERROR if rule_id.startswith("E") else WARNING
            if rule_id.startswith("I"):
                continue
            message = match.message if len(match.message) <= MAX_MESSAGE else match.message[: MAX_MESSAGE - 3] + "..."
            findings.append(Finding(pack, version, rule_id, severity, file, match.linenumber, message,
                                    column=getattr(match, "columnnumber", None) or None))
        return findings

    def close(self) -> None:
        """Nothing to release (kept for callers that close what they open)."""
