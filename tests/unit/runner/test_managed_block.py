"""The managed-block text transform: everything outside the block is kept byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubexms.runner._managed_block import replace_block

BEGIN, END = "# BEGIN kubexms", "# END kubexms"


def test_appends_to_a_file_without_the_block() -> None:
    assert replace_block("a\nb", "x", marker="kubexms") == f"a\nb\n{BEGIN}\nx\n{END}\n"
    assert replace_block("", "x\ny\n", marker="kubexms") == f"{BEGIN}\nx\ny\n{END}\n"


def test_replaces_only_the_block() -> None:
    text = f"head\n{BEGIN}\nold\n{END}\ntail\n"
    assert replace_block(text, "new", marker="kubexms") == f"head\n{BEGIN}\nnew\n{END}\ntail\n"


def test_removes_the_block() -> None:
    text = f"head\n{BEGIN}\nold\n{END}\ntail\n"
    assert replace_block(text, None, marker="kubexms") == "head\ntail\n"
    assert replace_block("head\n", None, marker="kubexms") == "head\n"


def test_other_markers_are_left_alone() -> None:
    text = "# BEGIN other\nx\n# END other\n"
    assert replace_block(text, "y", marker="kubexms").startswith(text)


def test_end_line_without_newline_stays_so() -> None:
    text = f"{BEGIN}\nold\n{END}"
    assert replace_block(text, "new", marker="kubexms") == f"{BEGIN}\nnew\n{END}"


def test_custom_comment_prefix() -> None:
    assert replace_block("", "x", marker="m", comment="//") == "// BEGIN m\nx\n// END m\n"


def test_multiline_marker_is_refused() -> None:
    with pytest.raises(ValueError, match="marker"):
        replace_block("", "x", marker="a\nb")


outside = st.text().filter(lambda t: "kubexms" not in t)


@given(before=outside, after=outside, old=st.text(), new=st.text())
def test_round_trip_keeps_the_outside(before: str, after: str, old: str, new: str) -> None:
    base = before if before.endswith("\n") or not before else before + "\n"
    with_old = replace_block(base, old.replace("kubexms", ""), marker="kubexms") + after
    with_new = replace_block(with_old, new.replace("kubexms", ""), marker="kubexms")
    assert with_new.startswith(base)
    assert with_new.endswith(after)
    assert replace_block(with_new, None, marker="kubexms") == base + after
