"""Watches: chunked JSON events from polling etcd.

The double keeps no history: a watch from an old ``resourceVersion`` sees the objects changed
since then (ADDED or MODIFIED by their revisions), not the deletions in between; deletions
during the watch are seen.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from .etcd import EtcdClient
from .resources import Resource
from .selectors import Matcher
from .store import Json

POLL = 0.5
LONGEST = 1800.0
BOOKMARK_EVERY = 30.0


class Watch:
    def __init__(
        self,
        etcd: EtcdClient,
        resource: Resource,
        namespace: str | None,
        matchers: list[Matcher],
        query: dict[str, str],
        stopping: threading.Event,
    ) -> None:
        self.etcd = etcd
        self.resource = resource
        self.prefix = resource.storage_prefix() + (
            f"{namespace}/" if resource.namespaced and namespace else ""
        )
        self.matchers = matchers
        self.since = query.get("resourceVersion", "")
        self.initial_events = query.get("sendInitialEvents") == "true"
        self.initial = self.initial_events or self.since in ("", "0")
        self.timeout = min(float(query.get("timeoutSeconds") or LONGEST), LONGEST)
        self.bookmarks = query.get("allowWatchBookmarks") == "true"
        self.stopping = stopping

    def _current(self) -> tuple[dict[str, tuple[int, int, Json]], int]:
        items, revision = self.etcd.list_prefix(self.prefix)
        current = {}
        for kv in items:
            document = json.loads(kv.value)
            document.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
            if all(m(document) for m in self.matchers):
                current[kv.key] = (kv.mod_revision, kv.create_revision, document)
        return current, revision

    def run(self, send: Callable[[Json], None]) -> None:
        """Send events until the timeout, the server's shutdown or a broken connection."""
        seen: dict[str, tuple[int, Json]] = {}
        deadline = time.monotonic() + self.timeout
        last_bookmark = time.monotonic()
        first = True
        while time.monotonic() < deadline and not self.stopping.is_set():
            current, revision = self._current()
            for key, (mod, created, document) in current.items():
                if first:
                    if self.initial:
                        send({"type": "ADDED", "object": document})
                    elif self.since.isdigit() and mod > int(self.since):
                        kind = "ADDED" if created > int(self.since) else "MODIFIED"
                        send({"type": kind, "object": document})
                elif key not in seen:
                    send({"type": "ADDED", "object": document})
                elif seen[key][0] != mod:
                    send({"type": "MODIFIED", "object": document})
            for key in seen.keys() - current.keys():
                send({"type": "DELETED", "object": seen[key][1]})
            if first and self.initial_events:
                send(self._bookmark(revision, initial_end=True))
            seen = {k: (v[0], v[2]) for k, v in current.items()}
            first = False
            if self.bookmarks and time.monotonic() - last_bookmark > BOOKMARK_EVERY:
                send(self._bookmark(revision))
                last_bookmark = time.monotonic()
            time.sleep(POLL)

    def _bookmark(self, revision: int, initial_end: bool = False) -> Json:
        metadata: Json = {"resourceVersion": str(revision)}
        if initial_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {
            "type": "BOOKMARK",
            "object": {
                "kind": self.resource.kind,
                "apiVersion": self.resource.group_version,
                "metadata": metadata,
            },
        }
