"""Reading cluster.yaml into plain data while remembering the line of every node."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from kubexms.config._errors import ConfigError, ConfigIssue, Loc, format_path

# The last segment of a formatted path: `.key`, `[3]` or `["quoted.key"]`.
_RANGE_IN_FLOW = re.compile(r"\[[^\]\n]*[\w-]\[\d+:\d+\]")
# `${NAME}` not inside quotes: in a flow collection `{` starts a nested mapping.
_UNQUOTED_REFERENCE = re.compile(r"""(^|[\s,\[{:])\$\{""")
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


# A cluster file is a few kilobytes, a thousand hosts a few hundred; anything far larger (or
# nested far deeper) is a mistake, and PyYAML's time and recursion grow with both.
MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000
# libyaml's parser when PyYAML has it: the same events and nodes, ten times faster than the
# pure-Python one (a 20-host file: ~15 ms instead of ~150 ms of a command's start-up).
_Loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)
_OPENERS = re.compile(r"(?:[\[{]\s*){" + str(MAX_DEPTH + 1) + "}")


def too_large(size: int | None) -> str:
    """The file-level message for a file of ``size`` bytes (None: unknown, but over the cap)."""
    cap = f"a cluster file is at most {MAX_BYTES // (1024 * 1024)} MiB (is this the right file?)"
    if size is None or size <= MAX_BYTES:
        return f"is larger than {MAX_BYTES // (1024 * 1024)} MiB; {cap}"
    return f"is {size / (1024 * 1024):.1f} MiB; {cap}"


def read_yaml(text: str, source: str) -> YamlSource:
    """Parse one YAML document; syntax errors and empty input raise `ConfigError` with a line.

    Size, characters and nesting depth are checked before the document is composed, so a huge,
    binary or absurdly nested file is refused quickly with one file-level issue.
    """
    _check_before_parsing(text, source)
    try:
        return _read_checked(text, source)
    except RecursionError:  # the depth check makes this unreachable; never a traceback anyway
        issue = ConfigIssue("", None, f"nested more than {MAX_DEPTH} levels deep")
        raise ConfigError([issue], source) from None


def _check_before_parsing(text: str, source: str) -> None:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise ConfigError([ConfigIssue("", None, too_large(size))], source)
    bad = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        char = bad.group()[0]
        what = "a NUL byte" if char == "\0" else f"the control character U+{ord(char):04X}"
        message = f"contains {what}; a cluster file is text (is this a binary file?)"
        raise ConfigError([ConfigIssue("", line, message)], source)
    _check_depth(text, source)


def _check_depth(text: str, source: str) -> None:
    """Refuse nesting deeper than `MAX_DEPTH` from the parser's events, before composing.

    PyYAML's parser is iterative; its composer (and the reader below) recurse per level.
    """
    runs = _OPENERS.search(text)
    if runs is not None:  # `[[[[...`: found in C before the parser's quadratic scan-ahead
        line = text.count("\n", 0, runs.start()) + 1
        message = f"nested more than {MAX_DEPTH} levels deep"
        raise ConfigError([ConfigIssue("", line, message)], source)
    loader = _Loader(text)
    depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    at = event.start_mark.line + 1 if event.start_mark else None
                    message = f"nested more than {MAX_DEPTH} levels deep"
                    raise ConfigError([ConfigIssue("", at, message)], source)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return  # a syntax error: reported, with its line, by the full read
    finally:
        loader.dispose()


def _read_checked(text: str, source: str) -> YamlSource:
    loader = _Loader(text)
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
    elif "flow" in what and _flow_lines_have_unquoted_reference(exc, text):
        # `{name: n2, sudoPassword: ${N2_SUDO}}`: the `{` of `${` opens a nested mapping.
        what += (
            '; quote ${...} references inside {...} or [...], e.g. sudoPassword: "${NODE2_SUDO}"'
        )
    return ConfigIssue("", line, f"not valid YAML: {what}")


def _flow_lines_have_unquoted_reference(exc: yaml.MarkedYAMLError, text: str) -> bool:
    lines = text.splitlines()
    marks = [mark for mark in (exc.context_mark, exc.problem_mark) if mark is not None]
    if not marks:
        return False
    first, last = min(m.line for m in marks), max(m.line for m in marks)
    return any(
        _UNQUOTED_REFERENCE.search(lines[i]) for i in range(first, min(last + 1, len(lines)))
    )


# Aliases let a few lines expand into millions of nodes, or into themselves; the reader stops at
# MAX_DEPTH levels and MAX_NODES nodes (a cluster file never needs anywhere near these).


class _NodeReader:
    """Turns composed YAML nodes into dicts, lists and scalars, noting each node's line."""

    def __init__(self, loader: yaml.SafeLoader | yaml.CSafeLoader) -> None:
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
