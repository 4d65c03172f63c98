"""Reading cluster.yaml into plain data while remembering the line of every node."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from kubexms.config._errors import ConfigError, ConfigIssue, Loc, format_path

# The last segment of a formatted path: `.key`, `[3]` or `["quoted.key"]`.
_RANGE_IN_FLOW = re.compile(r"\[[^\]\n]*[\w-]\[\d+:\d+\]")
_LAST_SEGMENT = re.compile(r'(?:\.[A-Za-z0-9_-]+|\[\d+\]|\["(?:[^"\\]|\\.)*"\])$')


def parent_path(path: str) -> str | None:
    """``spec.hosts[2].port`` -> ``spec.hosts[2]`` -> ``spec.hosts`` -> ``spec`` -> ``""``."""
    if not path:
        return None
    match = _LAST_SEGMENT.search(path)
    return path[: match.start()] if match else ""


@dataclass
class YamlSource:
    """The plain data of a YAML document plus the 1-based line of each node by its path."""

    data: object
    lines: dict[str, int] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)

    def line_of(self, path: str) -> int | None:
        """The node's line, or its nearest existing parent's when the node is missing."""
        current: str | None = path
        while current is not None:
            if current in self.lines:
                return self.lines[current]
            current = parent_path(current)
        return None


def read_yaml(text: str, source: str) -> YamlSource:
    """Parse one YAML document; syntax errors and empty input raise `ConfigError` with a line."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            raise ConfigError([_syntax_issue(exc, text)], source) from None
        except yaml.YAMLError as exc:
            raise ConfigError([ConfigIssue("", None, f"not valid YAML: {exc}")], source) from None
        if node is None:
            raise ConfigError([ConfigIssue("", 1, "the file is empty")], source)
        reader = _NodeReader(loader)
        try:
            data = reader.read(node, ())
        except yaml.MarkedYAMLError as exc:
            raise ConfigError([_syntax_issue(exc, text)], source) from None
        except _DocumentTooLargeError as exc:
            message = "nested too deeply or too large (a recursive or repeated alias?)"
            raise ConfigError([ConfigIssue("", exc.line, message)], source) from None
        return YamlSource(data, reader.lines, reader.issues)
    finally:
        loader.dispose()


class _DocumentTooLargeError(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def _syntax_issue(exc: yaml.MarkedYAMLError, text: str) -> ConfigIssue:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    parts = [p for p in (exc.context, exc.problem) if p]
    what = "; ".join(parts) if parts else "syntax error"
    source_line = text.splitlines()[line - 1] if line and line <= len(text.splitlines()) else ""
    if "flow" in what and _RANGE_IN_FLOW.search(source_line):
        # `worker: [node[1:3]]` reads as nested YAML lists; the range must be quoted there.
        what += '; quote host ranges inside [...] lists, e.g. ["node[1:3]"], or use "- node[1:3]"'
    return ConfigIssue("", line, f"not valid YAML: {what}")


# Aliases let a few lines expand into millions of nodes, or into themselves; a cluster file
# never needs anywhere near these.
MAX_DEPTH = 64
MAX_NODES = 200_000


class _NodeReader:
    """Turns composed YAML nodes into dicts, lists and scalars, noting each node's line."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self._loader = loader
        self._nodes = 0
        self.lines: dict[str, int] = {}
        self.issues: list[ConfigIssue] = []

    def read(self, node: yaml.Node, loc: Loc) -> object:
        if not loc:
            self.lines[""] = node.start_mark.line + 1
        self._nodes += 1
        if len(loc) > MAX_DEPTH or self._nodes > MAX_NODES:
            raise _DocumentTooLargeError(node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._read_mapping(node, loc)
        if isinstance(node, yaml.SequenceNode):
            items: list[object] = []
            for index, item in enumerate(node.value):
                item_loc = (*loc, index)
                self.lines[format_path(item_loc)] = item.start_mark.line + 1
                items.append(self.read(item, item_loc))
            return items
        return self._loader.construct_object(node, deep=True)

    def _read_mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[object, object]:
        self._loader.flatten_mapping(node)  # resolves `<<` merge keys like PyYAML does
        result: dict[object, object] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                line = key_node.start_mark.line + 1
                self.issues.append(ConfigIssue(format_path(loc), line, "keys must be plain text"))
                continue
            key = self._loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                # A key like `22:` or `true:` - kept as text so the path can name it.
                key = key_node.value
            key_loc = (*loc, key)
            path = format_path(key_loc)
            line = key_node.start_mark.line + 1
            if key in result:
                first = self.lines.get(path)
                where = f" (first on line {first})" if first is not None else ""
                self.issues.append(ConfigIssue(path, line, f"duplicate key{where}"))
            self.lines[path] = line
            result[key] = self.read(value_node, key_loc)
        return result
