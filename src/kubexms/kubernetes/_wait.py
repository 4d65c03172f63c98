"""Waits for the control plane: the API server ready through the control-plane endpoint, and
every expected node registered.

Both run on the first master with the real kubectl and the admin kubeconfig there
(``/etc/kubernetes/admin.conf`` in both modes, whose server is the endpoint), not from this
machine over HTTPS: the control machine may not reach the endpoint at all (hosts behind SSH
only), kubectl is on every master in both modes, and the admin's key stays on the host. So
"ready" means what the user's own kubectl will see: DNS or address of the endpoint, the load
balancer, TLS with the cluster CA, a client certificate accepted, ``/readyz`` ok.

On a timeout the error says what is not ready (the failing ``/readyz`` checks; the nodes not
registered) and shows the last journal lines of the component behind it: the given units on
the first master for the API server (``kubelet`` in kubeadm mode, which runs the static pod;
``kube-apiserver`` in binary mode), and the kubelet's on each missing node.
"""

from __future__ import annotations

import base64
import shlex
from dataclasses import dataclass

from kubexms.engine import Step
from kubexms.kubernetes._layout import ADMIN_CONF
from kubexms.runner import Change, RunnerError
from kubexms.runner._script import has_marker, markers
from kubexms.runtime import Context

KUBECTL = "/usr/local/bin/kubectl"
POLL_SECONDS = 2
JOURNAL_LINES = 20
REQUEST_TIMEOUT = "5s"


class ControlPlaneNotReadyError(RunnerError):
    """The API server or the nodes were not ready in time; the message says what and shows the
    component's last journal lines."""

    label = "control plane not ready"


def _kubectl(kubectl: str, kubeconfig: str, *args: str) -> str:
    return shlex.join(
        [kubectl, f"--kubeconfig={kubeconfig}", f"--request-timeout={REQUEST_TIMEOUT}", *args]
    )


def journal_script(units: tuple[str, ...], lines: int = JOURNAL_LINES) -> str:
    """Each unit's last ``lines`` journal lines, as ``@kxms:journal`` markers (one per line)."""
    parts = []
    for unit in units:
        quoted = shlex.quote(unit)
        parts.append(
            f'echo "@kxms:journal -- {unit} --"\n'
            f"journalctl -u {quoted} -n {lines} --no-pager 2>&1 | sed 's/^/@kxms:journal /'"
        )
    return "\n".join(parts)


def _decoded(stdout: str, word: str) -> str:
    raw = (markers(stdout, word) or [""])[-1]
    try:
        return base64.b64decode(raw).decode(errors="replace").strip()
    except ValueError:
        return ""


def _indent(text: str) -> str:
    return "\n    ".join(text.splitlines())


async def _journal(ctx: Context, host: str, units: tuple[str, ...]) -> str:
    """The units' last journal lines on ``host`` (a sentence when they cannot be read)."""
    if not units:
        return ""
    try:
        runner = ctx.cluster.host(host).runner
        result = await runner.script(journal_script(units), timeout=30, check=False)
    except (KeyError, RunnerError, OSError, TimeoutError) as error:
        return f"(journal of {host} unreadable: {error})"
    return "\n".join(markers(result.stdout, "journal"))


@dataclass(frozen=True)
class WaitForApiServer(Step):
    """Wait up to ``timeout_seconds`` until ``kubectl get --raw /readyz`` answers ``ok`` on this
    host (the first master) with ``kubeconfig`` (its server: the control-plane endpoint)."""

    kubeconfig: str = ADMIN_CONF
    kubectl: str = KUBECTL
    timeout_seconds: int = 300
    journal_units: tuple[str, ...] = ("kubelet",)

    name = "api-ready"
    description = "the API server ready through the control-plane endpoint (/readyz)"

    @property
    def timeout(self) -> float:  # type: ignore[override]
        return float(self.timeout_seconds + 60)

    def _probe(self) -> str:
        return _kubectl(self.kubectl, self.kubeconfig, "get", "--raw", "/readyz")

    async def precheck(self, ctx: Context) -> bool | Change:
        result = await ctx.runner.script(self._probe(), timeout=30, check=False)
        if result.ok and result.stdout.strip() == "ok":
            return True
        return Change(True, "API server ready", f"would wait up to {self.timeout_seconds}s")

    def script(self) -> str:
        verbose = _kubectl(self.kubectl, self.kubeconfig, "get", "--raw", "/readyz?verbose")
        return f"""start=$(date +%s)
errors=$(mktemp)
trap 'rm -f "$errors"' EXIT
until out=$({self._probe()} 2>"$errors") && [ "$out" = ok ]; do
  echo "@kxms:waited"
  if [ $(( $(date +%s) - start )) -ge {int(self.timeout_seconds)} ]; then
    echo "@kxms:err $({{ printf '%s\n' "$out"; cat "$errors"; }} | tail -n 5 | base64 -w0)"
    echo "@kxms:checks $({verbose} 2>&1 | grep -v '^\\[+\\]' | tail -n 20 | base64 -w0)"
    exit 1
  fi
  sleep {POLL_SECONDS}
done
echo "@kxms:ready"
"""

    async def run(self, ctx: Context) -> Change:
        result = await ctx.runner.script(
            self.script(), timeout=self.timeout_seconds + 30, check=False
        )
        if result.ok and has_marker(result.stdout, "ready"):
            # Ready at the first look (the precheck's one probe missed, e.g. on a loaded
            # host) is no change: a rerun of a done cluster stays "nothing changed".
            waited = has_marker(result.stdout, "waited")
            return Change(waited, "API server ready", "/readyz ok through the endpoint")
        said = _decoded(result.stdout, "err") or result.stderr.strip() or "no answer"
        checks = _decoded(result.stdout, "checks")
        message = (
            f"the API server was not ready through the control-plane endpoint after "
            f"{self.timeout_seconds}s (kubectl --kubeconfig={self.kubeconfig} get --raw "
            f"/readyz):\n    {_indent(said)}"
        )
        if checks and checks != said:
            message += f"\n  /readyz?verbose:\n    {_indent(checks)}"
        journal = await _journal(ctx, ctx.host.name, self.journal_units)
        if journal:
            message += f"\n  last journal lines on {ctx.host.name}:\n    {_indent(journal)}"
        raise ControlPlaneNotReadyError(ctx.host.name, message)


NAMES = "jsonpath={.items[*].metadata.name}"


@dataclass(frozen=True)
class WaitForNodes(Step):
    """Wait up to ``timeout_seconds`` until every one of ``nodes`` is a registered Node (Ready
    is the pod network's business: a node is NotReady until its CNI works)."""

    nodes: tuple[str, ...]
    kubeconfig: str = ADMIN_CONF
    kubectl: str = KUBECTL
    timeout_seconds: int = 300
    journal_units: tuple[str, ...] = ("kubelet",)

    name = "nodes-registered"
    description = "every node registered with the API server"

    @property
    def timeout(self) -> float:  # type: ignore[override]
        return float(self.timeout_seconds + 90)

    def _names(self) -> str:
        return _kubectl(self.kubectl, self.kubeconfig, "get", "nodes", "-o", NAMES)

    def missing(self, names: str) -> list[str]:
        found = set(names.split())
        return [node for node in self.nodes if node not in found]

    async def precheck(self, ctx: Context) -> bool | Change:
        result = await ctx.runner.script(self._names(), timeout=30, check=False)
        missing = self.missing(result.stdout) if result.ok else list(self.nodes)
        if not missing:
            return True
        return Change(True, "nodes registered", f"would wait for {', '.join(missing)}")

    def script(self) -> str:
        wanted = " ".join(shlex.quote(node) for node in self.nodes)
        return f"""start=$(date +%s)
errors=$(mktemp)
trap 'rm -f "$errors"' EXIT
while :; do
  if out=$({self._names()} 2>"$errors"); then
    missing=""
    for n in {wanted}; do
      case " $out " in *" $n "*) ;; *) missing="$missing $n" ;; esac
    done
    [ -z "$missing" ] && {{ echo "@kxms:ready"; exit 0; }}
    echo "@kxms:missing$missing"
  else
    echo "@kxms:err $(tail -n 3 "$errors" | base64 -w0)"
  fi
  if [ $(( $(date +%s) - start )) -ge {int(self.timeout_seconds)} ]; then
    exit 1
  fi
  sleep {POLL_SECONDS}
done
"""

    async def run(self, ctx: Context) -> Change:
        result = await ctx.runner.script(
            self.script(), timeout=self.timeout_seconds + 30, check=False
        )
        if result.ok and has_marker(result.stdout, "ready"):
            # Registered at the first look is no change (see WaitForApiServer.run).
            waited = any(
                line.startswith(("@kxms:missing", "@kxms:err"))
                for line in result.stdout.splitlines()
            )
            return Change(waited, "nodes registered", f"{len(self.nodes)} node(s)")
        # The last poll's answer: the nodes still missing, or why the list could not be read.
        lines = [line for line in result.stdout.splitlines() if line.startswith("@kxms:")]
        last = lines[-1] if lines else ""
        if last.startswith("@kxms:missing"):
            missing = last.removeprefix("@kxms:missing").split()
            headline = f"not registered: {', '.join(missing)}"
        else:
            missing = list(self.nodes)
            said = _decoded(result.stdout, "err") or result.stderr.strip() or "no answer"
            headline = f"the node list could not be read: {said.splitlines()[-1]}"
        message = (
            f"nodes not registered with the API server after {self.timeout_seconds}s: {headline}"
        )
        for node in missing:
            journal = await _journal(ctx, node, self.journal_units)
            if journal:
                message += f"\n  last journal lines on {node}:\n    {_indent(journal)}"
        raise ControlPlaneNotReadyError(ctx.host.name, message)
