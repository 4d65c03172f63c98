"""The systemd units of the binary-mode components.

Each unit runs its binary with the whole command line in ``ExecStart`` (one flag a line, sorted:
a reviewer reads exactly what runs, and a changed flag is a changed unit). No flag carries a
secret: keys and the encryption key are files the flags name. The services restart forever
(``Restart=always``, every 5 s, no start limit) like the kubelet package's unit: a component
that starts before the API server is reachable exits and comes back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kubexms.kubernetes.binary._args import command_line
from kubexms.kubernetes.binary._layout import binary

DESCRIPTIONS = {
    "kube-apiserver": "Kubernetes API Server",
    "kube-controller-manager": "Kubernetes Controller Manager",
    "kube-scheduler": "Kubernetes Scheduler",
    "kubelet": "kubelet: The Kubernetes Node Agent",
    "kube-proxy": "Kubernetes network proxy",
}
_AFTER = {
    "kube-apiserver": "network-online.target etcd.service",
    "kubelet": "network-online.target containerd.service",
}
_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]*")


def systemd_quote(word: str) -> str:
    """``word`` as one ExecStart argument: specifiers (``%``) and variables (``$``) doubled,
    quoted when it holds anything but plain characters."""
    escaped = word.replace("%", "%%").replace("$", "$$")
    if _PLAIN.fullmatch(word) and word:
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_unit(component: str, args: Mapping[str, str], executable: str | None = None) -> str:
    """``/etc/systemd/system/<component>.service`` running ``component`` (at ``executable``,
    None: where kubexms places it) with ``args``."""
    if component not in DESCRIPTIONS:
        raise KeyError(f"no unit for {component!r}")
    program = executable or binary(component)
    words = [systemd_quote(word) for word in command_line(program, args)]
    exec_start = " \\\n  ".join(words)
    after = _AFTER.get(component, "network-online.target")
    wants = (
        "containerd.service network-online.target"
        if component == "kubelet"
        else ("network-online.target")
    )
    return f"""# Written by kubexms (binary mode): {component} from the artifact store.
[Unit]
Description={DESCRIPTIONS[component]}
Documentation=https://kubernetes.io/docs/reference/command-line-tools-reference/{component}/
Wants={wants}
After={after}

[Service]
ExecStart={exec_start}
Restart=always
RestartSec=5
StartLimitInterval=0
LimitNOFILE=1048576

[Install]
WantedBy=multi-user.target
"""
