"""The shell text host locks run on a host (see ``_lock``): take the lock file atomically,
name the process groups of the run that holds it, stop them, take a lock over, release ours.
Each script prints ``@kxms:`` marker lines (``acquired``, ``held``, ``alive PGID START``)
that ``_lock`` reads.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from shlex import quote

LOCK_PATH = "/run/lock/kubexms.lock"


def process_group_log(run_id: str, lock_path: str = LOCK_PATH) -> str:
    """The host file run ``run_id``'s commands append ``<pgid> <start time>`` lines to."""
    return f"{lock_path}.{run_id}.pgids"


# The run id of the lock file at ``$f`` (empty if it has none).
_RUN_ID_OF_LOCK = (
    r"""sed -n 's/.*"run_id": "\([A-Za-z0-9-]*\)".*/\1/p' "$f" 2>/dev/null | head -n 1"""
)

# ``kx_alive PGID START`` succeeds while that process group still runs: its leader with the
# same start time (a reused pid is not it), or, the leader gone, members of the group.
_ALIVE = r"""kx_alive() {
  if read -r _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ kx_s _ 2>/dev/null </proc/"$1"/stat; then
    [ "$kx_s" = "$2" ]
  else
    kill -0 -"$1" 2>/dev/null
  fi
}"""


def _holder_groups_script(path: str) -> str:
    """Shell text printing ``@kxms:alive PGID START`` for each process group of the run
    that holds lock file ``$f`` which still runs."""
    return f"""{_ALIVE}
kx_id=$({_RUN_ID_OF_LOCK})
kx_log={quote(path)}.$kx_id.pgids
if [ -n "$kx_id" ] && [ -f "$kx_log" ]; then
  sort -u "$kx_log" | while read -r kx_g kx_t; do
    kx_alive "$kx_g" "$kx_t" && echo "@kxms:alive $kx_g $kx_t"
  done
fi
true"""


def _sweep_script(run_dir: str) -> str:
    # Only under our lock: every other run directory belongs to a run that has ended.
    root = quote(posixpath.dirname(run_dir))
    return f"""for kx_d in {root}/run-*; do
  [ -e "$kx_d" ] && [ "$kx_d" != {quote(run_dir)} ] && rm -rf -- "$kx_d"
done
true"""


def acquire_script(path: str, run_dir: str) -> str:
    return f"""f={quote(path)}
mkdir -p "$(dirname -- "$f")"
if ( set -C; cat > "$f" ) 2>/dev/null; then
  echo "@kxms:acquired"
  {_sweep_script(run_dir)}
  exit 0
fi
{_holder_groups_script(path)}
echo "@kxms:held"; cat "$f" 2>/dev/null || true"""


def stop_groups_script(groups: Sequence[tuple[str, str]], grace: float) -> str:
    """Stop the given process groups (TERM, KILL after ``grace``); print those still alive."""
    pairs = " ".join(f"{g}:{t}" for g, t in groups if g.isdigit() and t.isdigit())
    ticks = max(1, round(grace * 10))
    return f"""{_ALIVE}
kx_groups='{pairs}'
kx_each() {{
  kx_hit=1
  for kx_p in $kx_groups; do
    if kx_alive "${{kx_p%%:*}}" "${{kx_p#*:}}"; then kx_hit=0; $1 "${{kx_p%%:*}}"; fi
  done
  return $kx_hit
}}
kx_term() {{ kill -s TERM -- -"$1" 2>/dev/null || :; }}
kx_kill() {{ kill -s KILL -- -"$1" 2>/dev/null || :; }}
kx_tell() {{ echo "@kxms:alive $1"; }}
kx_each kx_term || exit 0
kx_n={ticks}
while [ "$kx_n" -gt 0 ] && kx_each :; do sleep 0.1; kx_n=$((kx_n - 1)); done
kx_each kx_kill || exit 0
sleep 0.5
kx_each kx_tell
true"""


def take_over_script(path: str, run_dir: str) -> str:
    # Replace whatever lock is there, atomically, with ours (only on --break-lock); the
    # broken run's process-group log goes with it.
    return f"""f={quote(path)}; t="$f.$$"
kx_id=$({_RUN_ID_OF_LOCK})
cat > "$t" && mv -f "$t" "$f" && echo "@kxms:acquired"
[ -z "$kx_id" ] || rm -f -- "$f.$kx_id.pgids"
{_sweep_script(run_dir)}"""


def release_script(path: str, run_id: str, run_dir: str, grace: float) -> str:
    # Only our own lock is removed: its run id must match. Our temporary files go with it.
    # Before that, nothing of the run may still run: a command whose session died (sshd
    # killed, connection lost and regained) goes on as an orphan and could write into the
    # run directory after it is removed. Such groups get ``grace`` seconds to end, then TERM,
    # then KILL; this script's own group (it is a command of the run too) is left alone.
    needle = quote(f'"run_id": "{run_id}"')
    log = quote(process_group_log(run_id, path))
    ticks = max(1, round(grace * 10))
    return f"""f={quote(path)}
{_ALIVE}
read -r _ _ _ _ kx_me _ </proc/$$/stat
kx_each() {{
  kx_hit=1
  [ -f {log} ] || return 1
  for kx_p in $(sort -u {log} | tr ' ' ':'); do
    kx_g=${{kx_p%%:*}}
    [ "$kx_g" = "$kx_me" ] && continue
    if kx_alive "$kx_g" "${{kx_p#*:}}"; then kx_hit=0; $1 "$kx_g"; fi
  done
  return $kx_hit
}}
kx_wait() {{
  kx_n={ticks}
  while [ "$kx_n" -gt 0 ] && kx_each :; do sleep 0.1; kx_n=$((kx_n - 1)); done
}}
kx_term() {{ kill -s TERM -- -"$1" 2>/dev/null || :; }}
kx_kill() {{ kill -s KILL -- -"$1" 2>/dev/null || :; }}
if kx_each :; then
  kx_wait; kx_each kx_term && kx_wait; kx_each kx_kill && sleep 0.2
fi
rm -rf -- {quote(run_dir)}
if grep -qF {needle} "$f" 2>/dev/null; then rm -f -- "$f" {log}; fi"""
