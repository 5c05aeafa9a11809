"""Bad pack files give a file:line:column error naming the field, the value and what was expected."""

from __future__ import annotations

import json
import os
import re

import pytest
from click.testing import CliRunner

from registry_tools.cli.main import cli
from registry_tools.config import LIMITS
from registry_tools.packs.errors import PackError
from registry_tools.packs.loader import load_pack


def _edit(pack_dir, old, new, count=1):
    path = pack_dir / "domain.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))
    return path


def _line_col(pack_dir, needle, column_of=None):
    lines = (pack_dir / "domain.yaml").read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if needle in line:
            return number, line.index(column_of or needle) + 1
    raise AssertionError(needle)


def _error(pack_dir) -> str:
    with pytest.raises(PackError) as info:
        load_pack(pack_dir)
    return str(info.value)


def _shown(pack_dir) -> str:
    return os.path.relpath(pack_dir / "domain.yaml") if str(pack_dir).startswith(os.getcwd()) else str(pack_dir / "domain.yaml")


def test_reference_pack_loads(pack_copy):
    pack = load_pack(pack_copy)
    assert pack.ref == "genomics@1.2.0"
    assert pack.default.instance_type == "r7i.4xlarge"


def test_wrong_type_names_file_line_column_field_value_and_expectation(pack_copy):
    # the standard size's vcpus (second 'vcpus: 16' is standard; small has 8)
    _edit(pack_copy, "    vcpus: 16\n", '    vcpus: "16"\n')
    line, col = _line_col(pack_copy, 'vcpus: "16"', column_of='"16"')
    assert _error(pack_copy) == f'{_shown(pack_copy)}:{line}:{col}: sizes.standard.vcpus: expected integer, got "16"'


def test_unknown_key_points_at_the_key_and_suggests(pack_copy):
    _edit(pack_copy, "license: Apache-2.0\n", "license: Apache-2.0\nlicence: MIT\n")
    line, col = _line_col(pack_copy, "licence: MIT")
    message = _error(pack_copy)
    assert f":{line}:{col}: licence: unknown field 'licence' (did you mean 'license'?)" in message


def test_bad_semver(pack_copy):
    _edit(pack_copy, 'version: "1.2.0"', 'version: "1.2"')
    line, col = _line_col(pack_copy, 'version: "1.2"', column_of='"1.2"')
    assert f':{line}:{col}: version: expected a semantic version like 1.2.0' in _error(pack_copy)


def test_unquoted_version_is_explained(pack_copy):
    _edit(pack_copy, 'version: "1.2.0"', "version: 1.2")
    assert "version: expected string, got 1.2" in _error(pack_copy)


def test_bad_category_lists_choices_and_suggests(pack_copy):
    _edit(pack_copy, "categories: [life-sciences]", "categories: [life-science]")
    message = _error(pack_copy)
    line, _ = _line_col(pack_copy, "categories: [life-science]")
    assert f":{line}:" in message
    assert "categories[0]: expected one of life-sciences, physical-sciences" in message
    assert "got \"life-science\" (did you mean 'life-sciences'?)" in message


def test_malformed_yaml(pack_copy):
    _edit(pack_copy, "categories: [life-sciences]", "categories: [life-sciences")
    message = _error(pack_copy)
    assert re.search(r"domain\.yaml:\d+:\d+: invalid YAML", message), message


def test_missing_required_field(pack_copy):
    _edit(pack_copy, "license: Apache-2.0\n", "")
    assert "missing required field 'license'" in _error(pack_copy)


def test_default_size_must_exist(pack_copy):
    _edit(pack_copy, "default_size: standard", "default_size: medium")
    line, col = _line_col(pack_copy, "default_size: medium", column_of="medium")
    assert f":{line}:{col}: default_size: expected one of the pack's sizes (small, standard, large, gpu), got \"medium\"" in _error(pack_copy)


def test_all_problems_are_reported_at_once(pack_copy):
    _edit(pack_copy, "    vcpus: 16\n", '    vcpus: "16"\n')
    _edit(pack_copy, "categories: [life-sciences]", "categories: [biology]")
    message = _error(pack_copy)
    assert "sizes.standard.vcpus" in message and "categories[0]" in message


def test_oversized_and_non_utf8_files(pack_copy):
    path = pack_copy / "domain.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    assert "not valid UTF-8" in _error(pack_copy)
    path.write_text("# pad\n" * (LIMITS.max_pack_file_bytes // 6 + 10))
    assert "the limit is" in _error(pack_copy)


def test_not_a_mapping(pack_copy):
    (pack_copy / "domain.yaml").write_text("- just\n- a list\n")
    assert "domain.yaml:1:1: expected a mapping of pack fields, got a list" in _error(pack_copy)


def test_broken_template_json_has_line(pack_copy):
    (pack_copy / "cloudformation.json").write_text('{\n  "Resources": {\n    "X": ,\n  }\n}\n')
    assert re.search(r"cloudformation\.json:3:\d+: invalid JSON", _error(pack_copy))


MUTATIONS = {
    "wrong-type": ("    vcpus: 16\n", '    vcpus: "16"\n'),
    "unknown-key": ("license: Apache-2.0\n", "license: Apache-2.0\nflavour: vanilla\n"),
    "bad-semver": ('version: "1.2.0"', 'version: "1.2.0.1"'),
    "bad-category": ("categories: [life-sciences]", "categories: [astrology]"),
    "malformed-yaml": ("title: Genomics and Variant Calling", "title: [Genomics"),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_cli_reports_mutations_with_file_line_and_exit_1(pack_copy, mutation):
    old, new = MUTATIONS[mutation]
    _edit(pack_copy, old, new)
    runner = CliRunner()
    result = runner.invoke(cli, ["registry", "validate", "--no-lint", "--format", "json", str(pack_copy)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    report = json.loads(result.output)
    assert report["errors"] >= 1
    finding = next(f for f in report["findings"] if f["severity"] == "error")
    assert finding["file"].endswith("domain.yaml") and isinstance(finding["line"], int)
    text = runner.invoke(cli, ["registry", "validate", "--no-lint", str(pack_copy)])
    assert text.exit_code == 1
    assert re.search(r"domain\.yaml:\d+", text.output) and "Traceback" not in text.output
