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
# The aarch64 helper is run under user-mode emulation (tests/helper_arch_test.ts).
have qemu-aarch64 || need+=(qemu-user)
# Races are widened and faults injected with strace (listing, security, terminal tests).
have strace || need+=(strace)
# The zsh and fish completion scripts are checked by those shells (tests/cli_test.ts).
have zsh || need+=(zsh)
have fish || need+=(fish)

# --- engines (issue 3) -------------------------------------------------------------------
# docker, rootful and rootless podman for tests/containers_test.ts. Packages join `need`
# (installed below); configuring and starting the engines runs once this script ends
# (EXIT trap), after the install. Idempotent; ~1 s when everything is in place.
have dockerd || need+=(docker.io)
have podman || need+=(podman)
have runc || need+=(runc)
have slirp4netns || need+=(slirp4netns)
# The test image is /bin/busybox copied into a rootfs: it must be the static build.
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
# --- Kubernetes pods (issue 13) ------------------------------------------------------------
# tests/k8s_test.ts starts a containerd of its own with the CRI plugin (containerd comes with
# docker.io), the CNI bridge plugins for its pods and catatonit as their pause process.
have containerd || need+=(containerd)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
have catatonit || need+=(catatonit)
NSJOIN_PODMAN_USER=nsjoin-podman
_nsjoin_engines() {
  local rc=$?
  if [ "$rc" != 0 ] || [ "$(id -u)" != 0 ] || ! have dockerd || ! have podman; then return; fi
  # crun 1.8 refuses this host's v1-hybrid cgroups: podman must use runc. Root lacks
  # CAP_SYS_RESOURCE, so podman's default ulimits must not exceed our hard limits.
  local nofile nproc conf=/etc/containers/containers.conf.d/50-nsjoin.conf
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
  if [ "$nofile" = unlimited ] || [ "$nofile" -gt 1048576 ]; then nofile=1048576; fi
  local want
  want=$(printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' \
    "$nofile" "$nofile" "$nproc" "$nproc")
  if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
    mkdir -p "${conf%/*}"
    printf '%s\n' "$want" >"$conf"
  fi
  # The rootless podman user: subordinate ids, a runtime dir, /dev/net/tun for slirp4netns.
  if ! id -u "$NSJOIN_PODMAN_USER" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/sh "$NSJOIN_PODMAN_USER"
  fi
  if ! grep -q "^$NSJOIN_PODMAN_USER:" /etc/subuid 2>/dev/null; then
    usermod --add-subuids 300000-365535 "$NSJOIN_PODMAN_USER"
  fi
  if ! grep -q "^$NSJOIN_PODMAN_USER:" /etc/subgid 2>/dev/null; then
    usermod --add-subgids 300000-365535 "$NSJOIN_PODMAN_USER"
  fi
  local uid
  uid=$(id -u "$NSJOIN_PODMAN_USER")
  install -d -m 700 -o "$uid" -g "$(id -g "$NSJOIN_PODMAN_USER")" "/run/user/$uid"
  if [ ! -e /dev/net/tun ]; then
    mkdir -p /dev/net
    mknod -m 666 /dev/net/tun c 10 200
  fi
  chmod 0666 /dev/net/tun
  # dockerd: installing docker.io does not start it here (no systemd).
  local dockerd_args="dockerd --storage-driver overlay2 --exec-opt native.cgroupdriver=cgroupfs"
  # In CI, a dockerd this script started before the run (for a session: this kind's sessions
  # each have a cgroup, and a session's processes are ended when it stops) is stopped and
  # started again as the run's own: stop 22's CI ran on a dockerd of the session that had just
  # ended, and a `docker exec` waited on it until CI's 90 minutes ran out. One not started by
  # this script (a system service) is left alone. .ci/run sets NSJOIN_CI_STARTED (epoch s).
  local pid age
  pid=$(cat /var/run/docker.pid 2>/dev/null || true)
  age=$(ps -o etimes= -p "${pid:-0}" 2>/dev/null | tr -d ' ' || true)
  if [ "${CI:-}" = true ] && [ -n "$pid" ] && [ -n "$age" ] &&
    [ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" = "$dockerd_args " ] &&
    { [ "$(cat "/proc/$pid/cgroup" 2>/dev/null)" != "$(cat /proc/self/cgroup)" ] ||
      [ $(($(date +%s) - age)) -lt "${NSJOIN_CI_STARTED:-0}" ]; }; then
    echo "tests/setup.sh: dockerd $pid was started before this CI run: starting the run's own" >&2
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 300); do
      if [ ! -e "/proc/$pid" ]; then break; fi
      if [ "$i" = 200 ]; then kill -KILL "$pid" 2>/dev/null || true; fi
      sleep 0.1
    done
  fi
  if ! timeout 5 docker version >/dev/null 2>&1; then
    # shellcheck disable=SC2086 # the words of dockerd_args
    setsid $dockerd_args >/var/log/nsjoin-dockerd.log 2>&1 </dev/null &
    local i
    for i in $(seq 300); do
      if [ -S /var/run/docker.sock ] && timeout 5 docker version >/dev/null 2>&1; then break; fi
      sleep 0.1
    done
    if ! timeout 5 docker version >/dev/null 2>&1; then
      echo "tests/setup.sh: dockerd did not start (see /var/log/nsjoin-dockerd.log)" >&2
      exit 1
    fi
  fi
}
trap _nsjoin_engines EXIT

if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "tests/setup.sh: missing ${need[*]} (run as root to install)" >&2
    exit 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q -o DPkg::Lock::Timeout=600 "${need[@]}" >/dev/null
fi
