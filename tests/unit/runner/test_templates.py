"""runner.templates: strict undefined variables, write only when the rendering differs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubexms.runner import Runner, TemplateError, render_template


def test_render_keeps_trailing_newline() -> None:
    assert render_template("a={{ a }}\n", {"a": 1}) == "a=1\n"


def test_undefined_variable_is_an_error_naming_it() -> None:
    with pytest.raises(TemplateError, match="'missing' is undefined"):
        render_template("{{ missing }}", {})


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(TemplateError, match="line 2"):
        render_template("ok\n{% if %}", {})


def test_template_from_a_file(tmp_path: Path) -> None:
    template = tmp_path / "t.j2"
    template.write_text("{% for x in xs %}{{ x }},{% endfor %}")
    assert render_template(template, {"xs": [1, 2]}) == "1,2,"
    with pytest.raises(TemplateError, match="cannot read"):
        render_template(tmp_path / "missing.j2", {})


async def test_render_writes_only_when_different(runner: Runner, tmp_path: Path) -> None:
    target = tmp_path / "conf"
    first = await runner.templates.render("v={{ v }}\n", str(target), {"v": 1}, mode=0o600)
    second = await runner.templates.render("v={{ v }}\n", str(target), {"v": 1}, mode=0o600)
    third = await runner.templates.render("v={{ v }}\n", str(target), {"v": 2}, mode=0o600)
    assert (first.changed, second.changed, third.changed) == (True, False, True)
    assert target.read_text() == "v=2\n"
