"""``runner.templates``: render Jinja2 templates on this machine and land them on the host."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubexms.runner._change import Change
from kubexms.runner._errors import TemplateError

if TYPE_CHECKING:
    import jinja2

    from kubexms.runner._runner import Runner


@cache
def _environment() -> jinja2.Environment:
    """One environment for all templates, made on first use (jinja2 costs ~0.1 s to import,
    which every command importing the Runner would pay). StrictUndefined makes a missing
    variable an error instead of an empty string in a config file; trailing newlines are kept.
    """
    import jinja2

    return jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - config files, not HTML
    )


def render_template(template: str | Path, variables: Mapping[str, Any], *, host: str = "") -> str:
    """Render a template (its text, or a Path to a file) with strict undefined variables.

    Raises TemplateError naming the template and the problem.
    """
    import jinja2

    name = str(template) if isinstance(template, Path) else "<template>"
    try:
        source = template.read_text() if isinstance(template, Path) else template
        return _environment().from_string(source).render(**variables)
    except OSError as error:
        raise TemplateError(host or "local", f"cannot read template {name}: {error}") from None
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(
            host or "local", f"template {name} line {error.lineno}: {error.message}"
        ) from None
    except jinja2.UndefinedError as error:
        raise TemplateError(host or "local", f"template {name}: {error.message}") from None


class Templates:
    """Render a template locally and write the result only when the host's file differs."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    def render_text(self, template: str | Path, variables: Mapping[str, Any]) -> str:
        """Render without writing (for checks and dry runs)."""
        return render_template(template, variables, host=self._runner.host_name)

    async def render(
        self,
        template: str | Path,
        path: str,
        variables: Mapping[str, Any],
        *,
        mode: int = 0o644,
        owner: str | None = None,
        check: bool = False,
    ) -> Change:
        """Render ``template`` with ``variables`` and write it to ``path`` if different
        (``check``: only say whether it differs, as ``files.write`` does)."""
        text = self.render_text(template, variables)
        change = await self._runner.files.write(path, text, mode=mode, owner=owner, check=check)
        return Change(change.changed, f"render {path}", change.detail)
