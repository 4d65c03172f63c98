"""A double of one systemd host for SystemdService unit tests: it answers the scripts the
steps and the Runner send (probe, file sync, systemctl verbs, waits, journal) from a small
state, and records what was done. The real thing is exercised by the fleet tests."""

from __future__ import annotations

import hashlib
import io
import re
import shlex
import tarfile
from dataclasses import dataclass, field

from kubexms.runtime import Context
from kubexms.testing import cluster_of, memory_runtime


@dataclass
class SystemdDouble:
    files: dict[str, bytes] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)
    enabled: bool = False
    active: bool = False
    healthy: bool = True
    fails_to_start: bool = False
    journal: str = "etcd[12]: listening\netcd[12]: ready\n"
    done: list[str] = field(default_factory=list)

    def __call__(self, host: str, command: str, stdin: bytes) -> tuple[int, str] | str:
        script = stdin.decode(errors="replace") if command == "exec sh -s" else command
        if "kx_is() {" in script:
            return self._probe(script)
        if "kx_sync()" in script:
            return self._sync(script, stdin)
        if "if ! out=$(" in script:
            return self._validate(script)
        if script.startswith("mv -f -- "):
            for move in script.split(" && "):
                _, _, _, source, target = shlex.split(move)
                self.files[target] = self.files.pop(source)
                self.modes[target] = self.modes.pop(source)
                self.done.append(f"move {source} {target}")
            return ""
        if script.startswith("systemctl reload -- "):
            self.done.append("reload")
            return (0, "") if self.active else (1, "Job for unit failed\n")
        if "systemctl daemon-reload" in script:
            self.done.append("daemon-reload")
            return "@kxms:done reloaded\n"
        for verb in ("enable", "start", "restart"):
            if f"systemctl {verb} -- " in script:
                return self._verb(verb)
        if 's=$(systemctl is-active -- "$u"' in script:
            state = "active" if self.active else "failed"
            lines = "".join(f"@kxms:journal {line}\n" for line in self.journal.splitlines())
            return f"@kxms:state {state}\n" + ("" if self.active else lines)
        if "while :; do" in script:  # waiting for health
            return "@kxms-probe:healthy\n" if self.healthy else ""
        if script.startswith("journalctl"):
            return self.journal
        if script.startswith("sh -c"):
            return (1, "connection refused\n")
        if 'rm -rf -- "$p"' in script:
            found = re.search(r"^p=(\S+)$", script, re.MULTILINE)
            assert found is not None
            (path,) = shlex.split(found.group(1))
            self.files.pop(path, None)
            self.done.append(f"remove {path}")
            return "@kxms:done removed\n"
        raise AssertionError(f"unexpected script: {script[:400]}")

    def _probe(self, script: str) -> str:
        out = []
        for line in script.splitlines():
            if line.startswith("kx_is "):
                words = shlex.split(line.split(" || ")[0])
                path, digest, mode = words[1], words[2], int(words[3], 8)
                index = line.rsplit(" ", 1)[1]
                data = self.files.get(path)
                same = data is not None and hashlib.sha256(data).hexdigest() == digest
                if not (same and self.modes.get(path) == mode):
                    out.append(f"@kxms-probe:differs {index}")
        if self.enabled:
            out.append("@kxms-probe:enabled")
        if self.active:
            out.append("@kxms-probe:active")
        if any(path.startswith("/var/lib/kubexms/restart-pending/") for path in self.files):
            out.append("@kxms-probe:pending")
        if any(path.startswith("/var/lib/kubexms/reload-pending/") for path in self.files):
            out.append("@kxms-probe:reload")
        if self.active and self.healthy:
            out.append("@kxms-probe:healthy")
        return "\n".join(out) + "\n"

    def _sync(self, script: str, stdin: bytes) -> str:
        with tarfile.open(fileobj=io.BytesIO(stdin)) as archive:
            contents = {}
            for member in archive.getmembers():
                handle = archive.extractfile(member)
                assert handle is not None
                contents[member.name] = handle.read()
        out = []
        checking = "kx_check=1" in script
        for line in script.splitlines():
            if line.startswith("kx_sync "):
                words = shlex.split(line)
                index, path, mode = words[1], words[2], int(words[4], 8)
                if checking:  # the Runner's check mode: report, change nothing
                    old = self.files.get(path)
                    if old is not None:
                        before, after = old.splitlines(), contents[index].splitlines()
                        added = len([x for x in after if x not in before])
                        removed = len([x for x in before if x not in after])
                        out.append(f"@kxms:lines {index} {added} {removed}")
                    out.append(f"@kxms:wrote {index}")
                    continue
                self.files[path] = contents[index]
                self.modes[path] = mode
                self.done.append(f"write {path}")
                out.append(f"@kxms:wrote {index}")
        return "\n".join(out) + "\n"

    def _validate(self, script: str) -> str:
        """The double's daemon refuses a candidate that contains the word BAD."""
        for index, line in enumerate(script.splitlines()):
            found = re.search(r"out=\$\(\S+ -c -f (\S+) 2>&1\)", line)
            assert found is not None, line
            (candidate,) = shlex.split(found.group(1))
            self.done.append(f"validate {candidate}")
            if b"BAD" in self.files[candidate]:
                for path in [p for p in self.files if p.endswith(".kubexms-new")]:
                    del self.files[path]
                return f"@kxms-probe:invalid {index}\n[ALERT] line 3: unknown keyword 'BAD'\n"
        return ""

    def _verb(self, verb: str) -> str:
        self.done.append(verb)
        if verb == "enable":
            self.enabled = True
        elif not self.fails_to_start:
            self.active = True
        return f"@kxms:done {verb}\n"


async def systemd_context(double: SystemdDouble) -> Context:
    runtime = await memory_runtime(cluster_of(1), double)
    return runtime.new_context(runtime.hosts[0])
