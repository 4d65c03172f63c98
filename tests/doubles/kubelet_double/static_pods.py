"""The kubelet double's static pods: each manifest in ``staticPodPath`` runs as a process, a
host binary standing in for the container image (there are no images here):

- ``kube-apiserver``: the kube-apiserver double (``tests/doubles/kube_apiserver.py``) with the
  manifest's flags, reporting the image's tag as its version;
- ``etcd``: the real Debian etcd (``/usr/bin/etcd``) with the manifest's flags;
- ``kube-controller-manager`` / ``kube-scheduler``: the stand-ins of ``standins.py`` (they check
  their flags and kubeconfig; the controller-manager signs kubelet client CSRs);
- any other image: not run (logged), as no stand-in exists.

A process that exits is started again after 5 s (a container's restart back-off); a changed
manifest restarts it; a removed manifest stops it. The processes live in the kubelet unit's
cgroup, so stopping the kubelet stops them (a real kubelet would leave its containers running).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from ._core import host

RESTART_DELAY = 5.0
SCAN_INTERVAL = 2.0


def _tag(image: str) -> str:
    return image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""


def command_for(pod: dict[str, Any], doubles: str) -> tuple[list[str], dict[str, str]] | None:
    """The argv and extra environment standing in for the pod's (only) container."""
    container = pod["spec"]["containers"][0]
    command = list(container.get("command") or []) + list(container.get("args") or [])
    if not command:
        return None
    binary, flags = command[0], command[1:]
    python = "/usr/bin/python3"
    if binary == "kube-apiserver":
        script = str(Path(doubles) / "kube_apiserver.py")
        return [python, script, *flags], {"KUBEXMS_DOUBLE_VERSION": _tag(container["image"])}
    if binary == "etcd":
        return ["/usr/bin/etcd", *flags], {}
    if binary in ("kube-controller-manager", "kube-scheduler"):
        argv = [python, "-m", "kubeadm_double.standins", binary, *flags]
        return argv, {"PYTHONPATH": doubles}
    return None


class StaticPods:
    """Runs the manifests of ``directory`` (see the module docstring)."""

    def __init__(self, directory: str, doubles: str, version: str) -> None:
        self.directory = directory
        self.doubles = doubles
        self.version = version
        self.running: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
        self.exited: dict[str, float] = {}
        self.lock = threading.Lock()

    def start(self, stop: threading.Event) -> None:
        if not self.directory:
            return
        threading.Thread(target=self._loop, args=(stop,), daemon=True).start()

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.sync()
            except Exception as error:
                print(f"kubelet: static pods: {error}", file=sys.stderr, flush=True)
            stop.wait(SCAN_INTERVAL)

    def _manifests(self) -> dict[str, tuple[str, dict[str, Any]]]:
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        directory = host(self.directory)
        if not directory.is_dir():
            return found
        for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.json")):
            data = path.read_bytes()
            pod = yaml.safe_load(data)
            if not isinstance(pod, dict) or pod.get("kind") != "Pod":
                print(f"kubelet: {path} is not a Pod; ignored", file=sys.stderr, flush=True)
                continue
            found[pod["metadata"]["name"]] = (hashlib.sha256(data).hexdigest(), pod)
        return found

    def sync(self) -> None:
        wanted = self._manifests()
        with self.lock:
            for name in list(self.running):
                digest, process = self.running[name]
                if name not in wanted or wanted[name][0] != digest:
                    self._stop(name)
                elif process.poll() is not None:
                    print(
                        f"kubelet: static pod {name} exited ({process.returncode}); "
                        f"restarting in {RESTART_DELAY:g}s",
                        file=sys.stderr,
                        flush=True,
                    )
                    del self.running[name]
                    self.exited[name] = time.monotonic()
            for name, (digest, pod) in wanted.items():
                if name in self.running:
                    continue
                if time.monotonic() - self.exited.get(name, 0.0) < RESTART_DELAY:
                    continue
                self._start(name, digest, pod)

    def _start(self, name: str, digest: str, pod: dict[str, Any]) -> None:
        found = command_for(pod, self.doubles)
        if found is None:
            image = pod["spec"]["containers"][0].get("image", "?")
            print(
                f"kubelet: static pod {name}: no stand-in for image {image}; not run",
                file=sys.stderr,
                flush=True,
            )
            self.exited[name] = time.monotonic() + 3600
            return
        argv, env = found
        for volume in pod["spec"].get("volumes") or []:
            path = (volume.get("hostPath") or {}).get("path")
            if path and (volume["hostPath"].get("type") == "DirectoryOrCreate"):
                os.makedirs(host(path), mode=0o700, exist_ok=True)
        process = subprocess.Popen(argv, env={**os.environ, **env}, stdin=subprocess.DEVNULL)
        self.running[name] = (digest, process)
        print(f"kubelet: started static pod {name} (pid {process.pid})", flush=True)

    def _stop(self, name: str) -> None:
        _, process = self.running.pop(name)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        with self.lock:
            for name in list(self.running):
                self._stop(name)
