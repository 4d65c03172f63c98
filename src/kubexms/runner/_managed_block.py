"""A block of lines kubexms owns inside a file someone else also edits (e.g. /etc/hosts)."""

from __future__ import annotations


def markers_for(marker: str, comment: str) -> tuple[str, str]:
    if not marker or any(c in marker for c in "\r\n"):
        raise ValueError(f"block marker {marker!r} is empty or spans lines")
    if any(c in comment for c in "\r\n"):
        raise ValueError(f"comment prefix {comment!r} spans lines")
    return f"{comment} BEGIN {marker}", f"{comment} END {marker}"


def replace_block(text: str, block: str | None, *, marker: str, comment: str = "#") -> str:
    """``text`` with the block between the marker lines set to ``block`` (None removes it).

    Only the first well-formed block (a BEGIN line followed later by its END line) is
    replaced; everything outside it is kept byte for byte. A missing block is appended,
    after a line break if ``text`` does not end with one.
    """
    begin, end = markers_for(marker, comment)
    lines = text.splitlines(keepends=True)
    stripped = [line.rstrip("\r\n") for line in lines]
    new_block: list[str] = []
    if block is not None:
        body = block[:-1] if block.endswith("\n") else block
        new_block = [begin + "\n"]
        if body:
            new_block += [line + "\n" for line in body.split("\n")]
        new_block.append(end + "\n")
    start = stripped.index(begin) if begin in stripped else -1
    stop = stripped.index(end, start + 1) if start >= 0 and end in stripped[start + 1 :] else -1
    if start >= 0 and stop >= 0:
        after = lines[stop + 1 :]
        closing = lines[stop]
        if not closing.endswith("\n") and new_block:
            # The file ended on the END line without a newline: keep it that way.
            new_block[-1] = new_block[-1][:-1]
        return "".join(lines[:start] + new_block + after)
    if block is None:
        return text
    prefix = text if not text or text.endswith("\n") else text + "\n"
    return prefix + "".join(new_block)
