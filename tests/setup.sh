#!/usr/bin/env bash
# Installs and starts what the test suite needs on a fresh Debian 12 machine (as root).
# Idempotent and quick when everything is there. Without root it only checks.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have unshare || need+=(util-linux)
have setpriv || need+=(util-linux)
have ip || need+=(iproute2)
have busybox || need+=(busybox-static)
have newuidmap || need+=(uidmap)
have tmux || need+=(tmux)
have x86_64-linux-gnu-gcc || need+=(gcc)
have aarch64-linux-gnu-gcc || need+=(gcc-aarch64-linux-gnu)

# --- engines (issue 3) -------------------------------------------------------------------

if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "tests/setup.sh: missing ${need[*]} (run as root to install)" >&2
    exit 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q -o DPkg::Lock::Timeout=600 "${need[@]}" >/dev/null
fi
