#!/usr/bin/env bash
# Install everything kubexms and its tests need on a fresh Debian machine: the Debian packages
# the simulated fleet uses (when run as root) and a virtualenv with kubexms in it (.venv).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    mapfile -t packages < <(grep -Ev '^\s*(#|$)' .ci/fleet-packages.txt)
    missing=()
    for package in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$package")
    done
    # Package lists are needed to install, and also by `apt-get download` (offline packages).
    if [ "${#missing[@]}" -gt 0 ] || ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
        apt-get update -q
    fi
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "bootstrap: installing Debian packages: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
else
    echo "bootstrap: not root; skipping Debian packages (the sandbox needs root anyway)"
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
# pip compiles a wheel's modules, not an editable checkout's: byte-compile once, so a shell with
# PYTHONDONTWRITEBYTECODE set does not compile kubexms from source at every command's start
# (the tests start kubexms hundreds of times). Edited modules are compiled again on import.
.venv/bin/python -m compileall -q src tests benchmarks >/dev/null
echo "bootstrap: ready; run .venv/bin/kubexms --help"
