"""Every YAML example in the README parses as written; whole cluster files also validate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from kubexms.config import parse_config

README = Path(__file__).resolve().parents[3] / "README.md"
_BLOCK = re.compile(r"^( *)```yaml\n(.*?)^\1```", re.MULTILINE | re.DOTALL)
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _blocks() -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        indent = len(match.group(1))
        body = "".join(line[indent:] + "\n" for line in match.group(2).splitlines())
        found.append((text[: match.start()].count("\n") + 1, body))
    return found


BLOCKS = _blocks()


def test_the_readme_has_yaml_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize(("line", "body"), BLOCKS, ids=[f"README.md:{n}" for n, _ in BLOCKS])
def test_example_parses(line: int, body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    document = yaml.safe_load(body)
    assert document is not None, f"README.md:{line}: an empty example"
    if isinstance(document, dict) and document.get("kind") == "Cluster":
        for name in _REFERENCE.findall(body):
            monkeypatch.setenv(name, f"example-{name.lower()}")
        parse_config(body, source=f"README.md:{line}")  # raises ConfigError, naming the field
