"""Bad pack files give a file:line:column error naming the field, the value and what was expected."""

from __future__ import annotations

import json
import os
import re

import pytest
from click.testing import CliRunner

from registry_tools.cli.main import cli
from registry_tools.limits import LIMITS
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


# --- issue 15: values JSON cannot carry, control characters, bounded messages -----------------------------------------

def _problems(pack_dir):
    with pytest.raises(PackError) as info:
        load_pack(pack_dir)
    return info.value.problems


@pytest.mark.parametrize(("old", "new", "field", "message"), [
    ("hours_per_month: 730", "hours_per_month: .nan", "cost_estimate.hours_per_month", "NaN (not a number) is not allowed"),
    ("standard: 812.63", "standard: .inf", "cost_estimate.monthly_usd.standard", "infinity is not allowed"),
    ("standard: 812.63", "standard: -1.0e+999", "cost_estimate.monthly_usd.standard", "infinity is not allowed"),
    ("standard: 812.63", "standard: " + "9" * 60, "cost_estimate.monthly_usd.standard", "an integer of 60 digits"),
    ("    vcpus: 16\n", "    vcpus: 9007199254740992\n", "sizes.standard.vcpus", "more than JSON can hold exactly"),
    ("  RootVolumeGiB: 500", "  RootVolumeGiB: .nan", "deployment.parameters.RootVolumeGiB", "NaN"),
])
def test_numbers_json_cannot_hold_are_problems_with_line_and_column(pack_copy, old, new, field, message):
    _edit(pack_copy, old, new)
    line, col = _line_col(pack_copy, new.strip(), column_of=new.split(": ")[1].strip())
    (problem,) = _problems(pack_copy)
    assert (problem.line, problem.column, problem.field, problem.rule) == (line, col, field, "value")
    assert message in problem.message


def test_a_number_too_long_to_convert_is_one_problem(pack_copy):
    _edit(pack_copy, "standard: 812.63", "standard: " + "9" * 5000)
    (problem,) = _problems(pack_copy)
    assert problem.rule == "value" and problem.line is not None and problem.column == 15
    assert "a number written with 5000 characters" in problem.message


@pytest.mark.parametrize(("old", "new", "field"), [
    ("title: Genomics and Variant Calling", 'title: "Genomics\\e]0;pwned\\a and Variant Calling"', "title"),
    ("title: Genomics and Variant Calling", 'title: "Genomics \\x1b[2J"', "title"),
    ("title: Genomics and Variant Calling", 'title: "Genomics\\nand Variant Calling"', "title"),
    ("  - name: AWS Research Wizard maintainers", '  - name: "AWS \\u202eResearch Wizard maintainers"',
     "maintainers[0].name"),
    ("  - name: AWS Research Wizard maintainers", '  - name: "AWS\\tResearch Wizard maintainers"',
     "maintainers[0].name"),
    ("name: genomics", 'name: "genomics\\x9b"', "name"),
    ("description: >-", 'description: "A description of twenty characters or more\\x07"\nold_description: >-',
     "description"),
])
def test_control_characters_in_pack_text_are_problems_with_a_line(pack_copy, old, new, field):
    _edit(pack_copy, old, new)
    line, _ = _line_col(pack_copy, new.split("\n")[0])
    text = [p for p in _problems(pack_copy) if p.rule == "text"]
    assert [(p.field, p.line) for p in text] == [(field, line)]
    assert "\x1b" not in str(text[0]) and "\x07" not in str(text[0]) and "\u202e" not in str(text[0])


def test_line_breaks_are_fine_in_descriptions(pack_copy):
    _edit(pack_copy, "description: >-", "description: |-")
    assert load_pack(pack_copy).description.count("\n") == 3


def test_mapping_keys_must_be_text(pack_copy):
    _edit(pack_copy, "    standard: 812.63\n", "    standard: 812.63\n    1: 2.0\n")
    (problem,) = _problems(pack_copy)
    assert problem.rule == "value" and problem.field == "cost_estimate.monthly_usd[1]"
    assert "mapping keys must be text, got 1" in problem.message and problem.line is not None


def test_bad_bytes_have_a_line_and_column(pack_copy):
    path = pack_copy / "domain.yaml"
    text = path.read_bytes()
    line, _ = _line_col(pack_copy, "title: G", "title")
    path.write_bytes(text.replace(b"title: Genomics", b"title: G\xc3\xa9n\xffomics"))
    (problem,) = _problems(pack_copy)
    assert "not valid UTF-8" in problem.message and (problem.line, problem.column) == (line, 11)
    path.write_bytes(text.replace(b"title: Genomics", b"title: Gen\0omics"))
    (problem,) = _problems(pack_copy)
    assert "NUL" in problem.message and (problem.line, problem.column) == (line, 11)


def test_messages_stay_short_whatever_the_value(pack_copy):
    _edit(pack_copy, "keywords: [gatk,", "keywords: [" + "X" * 50_000 + ", " + ", ".join(["Y" * 2000] * 60) + ", gatk,")
    problems = _problems(pack_copy)
    assert len(problems) == 101 and "more problem(s) from here on, not shown" in problems[-1].message
    assert max(len(str(p)) for p in problems) < 400


def test_a_list_of_mappings_with_uniqueness_is_checked_in_linear_time(pack_copy):
    import time

    _edit(pack_copy, "outputs: [InstanceId, BucketName, ConnectCommand, ResultsUri]",
          "outputs: [InstanceId, BucketName, ConnectCommand, " + ", ".join(f"{{a: {i}}}" for i in range(9_000)) + "]")
    started = time.process_time()
    problems = _problems(pack_copy)
    assert time.process_time() - started < 10  # jsonschema's pairwise check: minutes
    assert all(p.field.startswith("deployment.outputs[") for p in problems[:100])


def _adversarial(pattern: str) -> list[str]:
    """Long strings that almost match *pattern*: what makes a backtracking regex quadratic."""
    n = 50_000
    return [c * n + end for c in "a.@-1 :/=_+" for end in ("", "!", "@", " ", "\n")] + [
        "a@" + "." * n + "@", "1.2.3-" + "1" * n + "!", "s3://" + "a" * n + "!", "a" * n + "==1" + "!" * n]


def test_every_schema_pattern_runs_in_linear_time():
    """A pack string can be 256 KB: no pattern of the schema may backtrack quadratically on it."""
    import re
    import time

    from registry_tools.packs.schema import domain_schema

    patterns: set[str] = set()

    def collect(node):
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.add(node["pattern"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(domain_schema())
    assert len(patterns) > 10
    for pattern in sorted(patterns):
        compiled = re.compile(pattern)
        for text in _adversarial(pattern):
            started = time.process_time()
            compiled.search(text)
            assert time.process_time() - started < 0.5, (pattern, text[:20], len(text))


def test_schema_numbers_have_bounds_the_cost_maths_can_hold():
    from registry_tools.packs.schema import domain_schema

    schema = domain_schema()
    cost = schema["properties"]["cost_estimate"]["properties"]
    size = schema["$defs"]["size"]["properties"]
    assert cost["hours_per_month"]["maximum"] == 744 and cost["monthly_usd"]["additionalProperties"]["maximum"]
    assert all("maximum" in size[field] for field in ("vcpus", "memory_gib", "gpus", "storage_gib"))
    assert schema["$defs"]["semver"]["maxLength"] == 64  # Version.parse converts its numbers
