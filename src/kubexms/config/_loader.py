"""Reading, validating and writing cluster files."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from kubexms.config._checks import spec_problems
from kubexms.config._cluster import Cluster
from kubexms.config._env_refs import restore_references, substitute_env
from kubexms.config._errors import ConfigError, ConfigIssue, Loc, format_path
from kubexms.config._salvage import salvage_spec_parts
from kubexms.config._validation_messages import problems_from
from kubexms.config._yaml_source import MAX_BYTES, YamlSource, read_yaml, too_large

_TOP_LEVEL = "the file must be a mapping with apiVersion, kind, metadata and spec"


def load_config(path: str | Path) -> Cluster:
    """Read and validate a cluster file. Raises `ConfigError` listing every problem."""
    source = str(path)
    try:
        with Path(path).open("rb") as handle:  # never more than the cap, even from /dev/zero
            raw = handle.read(MAX_BYTES + 1)
            if len(raw) > MAX_BYTES:
                size = os.fstat(handle.fileno()).st_size  # 0 for a device or a pipe
                raise ConfigError([ConfigIssue("", None, too_large(size or None))], source)
        # Universal newlines, as reading in text mode would give.
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue("", None, "file not found")], source) from None
    except IsADirectoryError:
        raise ConfigError([ConfigIssue("", None, "is a directory, not a file")], source) from None
    except PermissionError:
        raise ConfigError([ConfigIssue("", None, "permission denied")], source) from None
    except UnicodeDecodeError:
        raise ConfigError([ConfigIssue("", None, "is not UTF-8 text")], source) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError([ConfigIssue("", None, f"cannot be read: {reason}")], source) from None
    return parse_config(text, source)


def parse_config(text: str, source: str = "<string>") -> Cluster:
    """Validate cluster-file text; ``source`` names it in error messages.

    ``${NAME}`` references in string values are replaced from the environment. Raises
    `ConfigError` listing every problem, each with its field path and YAML line.
    """
    document = read_yaml(text, source)
    if not isinstance(document.data, dict):
        raise ConfigError([ConfigIssue("", document.line_of(""), _TOP_LEVEL)], source)

    substituted = substitute_env(document.data, os.environ)
    problems: list[tuple[Loc, str]] = []
    found: list[ConfigIssue] = []
    cluster: Cluster | None = None
    try:
        cluster = Cluster.model_validate(substituted.data)
    except ValidationError as exc:
        problems += problems_from(exc, Cluster)
        spec = substituted.data.get("spec") if isinstance(substituted.data, dict) else None
        if isinstance(spec, dict):
            problems += spec_problems(salvage_spec_parts(spec))
    except ConfigError as exc:
        found += exc.issues
    found += [ConfigIssue(format_path(loc), None, message) for loc, message in problems]

    # A field whose variable is unset is reported once, as that, not again as invalid.
    unresolved = {format_path(loc) for loc, _ in substituted.problems}
    issues = list(document.issues)
    issues += [ConfigIssue(format_path(loc), None, msg) for loc, msg in substituted.problems]
    issues += [issue for issue in found if issue.path not in unresolved]
    if issues or cluster is None:
        raise ConfigError(_with_lines(issues, document), source)
    cluster._env_references = dict(substituted.originals)
    return cluster


def _with_lines(issues: Iterable[ConfigIssue], document: YamlSource) -> list[ConfigIssue]:
    """Issues with YAML lines, duplicates dropped, in file order."""
    unique: dict[tuple[str, str], ConfigIssue] = {}
    for issue in issues:
        line = issue.line if issue.line is not None else document.line_of(issue.path)
        unique.setdefault((issue.path, issue.message), ConfigIssue(issue.path, line, issue.message))
    return sorted(unique.values(), key=lambda issue: issue.line or 0)


def dump_config(cluster: Cluster) -> str:
    """The cluster as YAML, fields that were never set left out.

    Values that came from ``${NAME}`` references are written as those references; secrets that
    were written in the file in plain text are written back as they were.
    """
    data = _plain(cluster.model_dump(by_alias=True, exclude_unset=True))
    data = restore_references(data, cluster._env_references)
    return yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)  # `timeout: 30`, as people write it
    if isinstance(value, BaseModel):
        return _plain(value.model_dump(by_alias=True, exclude_unset=True))
    return value


class _BlockDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Writes multi-line strings (inline private keys) as readable ``|`` blocks.

    libyaml's emitter when PyYAML has it (the same YAML, several times faster to write).
    """


# Unicode line breaks PyYAML would otherwise write raw (with allow_unicode) and read back as
# spaces; double quotes escape them.
_UNICODE_BREAKS = frozenset("\r\x85\u2028\u2029")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style: str | None = None
    if _UNICODE_BREAKS.intersection(value):
        style = '"'
    elif "\n" in value:
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)


def cluster_json_schema() -> dict[str, Any]:
    """The JSON Schema of the cluster file (YAML field names), for editors and CI."""
    schema = Cluster.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
