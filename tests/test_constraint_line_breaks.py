"""A line break inside a constraint term is refused with the usual message (it used to escape as an
AttributeError: the operator regex's ``.`` stops at a line break, so it did not match; mypy found it)."""

from __future__ import annotations

import pytest

from registry_tools.client.constraints import ConstraintError, parse_constraint


@pytest.mark.parametrize("text", [">=1.2\n3", "^1\n.2", "1.2.0\r\n1"])
def test_a_line_break_inside_a_term_is_a_constraint_error(text):
    with pytest.raises(ConstraintError, match="is not a version; join conditions with commas") as caught:
        parse_constraint(text)
    assert repr(text) in str(caught.value) and "e.g. 1.2.0, ^1.2" in str(caught.value)
