"""Reading the checksum files projects publish beside their releases."""

from __future__ import annotations

import re

from kubexms.artifacts._errors import ChecksumUnavailableError

_LINE = re.compile(r"([0-9a-fA-F]{64})(?:\s+\*?(\S.*?))?\s*")


def parse_checksum_file(text: str, file: str, url: str) -> str:
    """The sha256 for ``file`` in a published checksum file.

    Both shapes releases use are read: a bare digest (``kubelet.sha256``) and
    ``sha256sum`` lines, ``<digest>  <name>`` (``SHA256SUMS``, ``*.sha256sum``), where the
    line naming ``file`` (by its last path component) is taken.
    """
    entries: list[tuple[str, str | None]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.fullmatch(line.strip())
        if match is None:
            raise ChecksumUnavailableError(
                f"{url} is not a sha256 checksum file (unexpected line {line.strip()[:80]!r})"
            )
        name = match.group(2)
        entries.append((match.group(1).lower(), name.rsplit("/", 1)[-1] if name else None))
    named = [digest for digest, name in entries if name == file]
    if named:
        if len(set(named)) > 1:
            raise ChecksumUnavailableError(f"{url} lists {file} with different digests")
        return named[0]
    if len(entries) == 1 and entries[0][1] is None:
        return entries[0][0]
    raise ChecksumUnavailableError(f"{url} has no sha256 for {file}")
