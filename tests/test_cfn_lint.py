"""Every pack template passes cfn-lint (one reused rule set) with no errors."""

from __future__ import annotations

import pytest

from registry_tools.packs.loader import load_pack_files
from registry_tools.validation.cfn import CfnLinter

from .conftest import all_version_dirs, version_id


@pytest.fixture(scope="module")
def linter():
    linter = CfnLinter()
    yield linter
    linter.close()


@pytest.mark.slow
@pytest.mark.parametrize("version_dir", all_version_dirs(), ids=version_id)
def test_template_has_no_cfn_lint_errors(linter, version_dir):
    loaded = load_pack_files(version_dir)
    findings = linter.lint(loaded.template_text, loaded.pack.regions, pack=loaded.pack.name,
                           version=str(loaded.pack.version), file=loaded.template_file)
    assert [str(f) for f in findings if f.severity == "error"] == []


def test_template_metadata_cannot_silence_errors(linter, pack_copy):
    import json

    template = json.loads((pack_copy / "cloudformation.json").read_text())
    template["Resources"]["Instance"]["Properties"]["InstanceType"] = "m7i.gigantic"
    template["Metadata"]["cfn-lint"] = {"config": {"ignore_checks": ["E", "W"]}}
    findings = linter.lint(json.dumps(template, indent=2), ["us-east-1"], pack="genomics", version="1.2.0", file="t.json")
    assert any(f.severity == "error" and "'m7i.gigantic' is not one of" in f.message for f in findings), findings


def test_cfnlintrc_in_working_directory_is_ignored(linter, pack_copy, tmp_path, monkeypatch):
    import json

    (tmp_path / ".cfnlintrc").write_text("ignore_checks:\n  - E\n  - W\n")
    monkeypatch.chdir(tmp_path)
    fresh = CfnLinter()
    try:
        template = json.loads((pack_copy / "cloudformation.json").read_text())
        template["Resources"]["Instance"]["Properties"]["InstanceType"] = "m7i.gigantic"
        findings = fresh.lint(json.dumps(template, indent=2), ["us-east-1"], pack="genomics", version="1.2.0", file="t.json")
    finally:
        fresh.close()
    assert any(f.severity == "error" and "'m7i.gigantic' is not one of" in f.message for f in findings), findings
