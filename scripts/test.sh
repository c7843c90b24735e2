#!/usr/bin/env bash
# The test command. Installs what the tests need (only what is missing; Debian 12, run as root or with sudo), runs
# every test once and ends with one line "N passed, N failed, N skipped". Exits non-zero when a test failed, when no
# test ran, or when the run itself broke. Extra arguments go to `dotnet test`:
#   scripts/test.sh --filter "FullyQualifiedName~Wave.Tests.Tooling"
#
# Environment it sets for the tests:
#   WAVE_TEST_ARM64_BUSYBOX_DEB  path of busybox-static's arm64 .deb (the base of arm64 test images)
#   WAVE_TEST_KUBE_ASSETS        folder with kube-apiserver and kube-controller-manager v1.24 (and, in ../shared/kube,
#                                start-kube.sh): as given, else ../shared/kube beside the repository, else
#                                /work/shared/kube, else the release binaries downloaded from dl.k8s.io into the cache
#   TMPDIR                       a folder of this run only; removed afterwards with everything in it
#   WAVE_TEST_RUN_ID             a marker every process started by the tests inherits; whatever still carries it when
#                                the tests are done is a leaked server, and is stopped
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

log() { echo "test.sh: $*" >&2; }
warn() { echo "test.sh: warning: $*" >&2; }

as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo > /dev/null; then
    sudo -n "$@"
  else
    "$@"
  fi
}

# ---------------------------------------------------------------------------------------------------------------------
# Machine setup: Debian packages, the arm64 busybox, arm64 emulation
# ---------------------------------------------------------------------------------------------------------------------

packages=(
  docker-registry buildah skopeo docker.io redis-server rabbitmq-server postgresql squashfs-tools umoci
  qemu-user-static binfmt-support busybox-static apache2-utils jq wrk chromium chromium-driver etcd-server curl
  python3-packaging zstd
)
# Installing these starts a system instance; the tests start private ones on free ports instead.
services=(redis-server rabbitmq-server postgresql)

is_installed() { dpkg-query -W -f='${Status}' "$1" 2> /dev/null | grep -q 'ok installed'; }

apt_updated=0
apt_update_once() {
  if ((apt_updated == 0)); then
    log "apt-get update"
    as_root apt-get update -q
    apt_updated=1
  fi
}

policy_rc_added=0
forbid_service_starts() {
  # invoke-rc.d and deb-systemd-invoke ask policy-rc.d before starting a service; 101 means "not now".
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
    policy_rc_added=1
  fi
}
allow_service_starts() {
  if ((policy_rc_added == 1)); then
    as_root rm -f /usr/sbin/policy-rc.d
    policy_rc_added=0
  fi
}

stop_and_disable() {
  local service=$1
  as_root service "$service" stop > /dev/null 2>&1 || as_root invoke-rc.d "$service" stop > /dev/null 2>&1 || true
  if [[ -d /run/systemd/system ]]; then
    as_root systemctl disable "$service" > /dev/null 2>&1 || true
  fi
  as_root update-rc.d "$service" disable > /dev/null 2>&1 || true
}

install_packages() {
  local missing=()
  for package in "${packages[@]}"; do
    is_installed "$package" || missing+=("$package")
  done
  ((${#missing[@]} > 0)) || return 0
  log "installing ${missing[*]}"
  apt_update_once
  forbid_service_starts
  # needrestart (if present) would otherwise offer to restart the machine's services.
  as_root env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -q \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
  allow_service_starts
  for service in "${services[@]}"; do
    if [[ " ${missing[*]} " == *" $service "* ]]; then
      stop_and_disable "$service"
    fi
  done
}

cache_dir="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/wave-tests"

cached_arm64_busybox() {
  compgen -G "$cache_dir/busybox-static_*_arm64.deb" | sort | tail -n 1 || true
}

# busybox-static for arm64, downloaded (not installed) as the root file system of arm64 test images.
fetch_arm64_busybox() {
  if [[ -n "${WAVE_TEST_ARM64_BUSYBOX_DEB:-}" && -f "$WAVE_TEST_ARM64_BUSYBOX_DEB" ]]; then
    return 0
  fi
  local deb
  deb=$(cached_arm64_busybox)
  if [[ -z "$deb" ]]; then
    mkdir -p "$cache_dir"
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
      log "adding the arm64 architecture to apt"
      as_root dpkg --add-architecture arm64
      apt_updated=0
    fi
    apt_update_once
    log "downloading busybox-static:arm64 into $cache_dir"
    # apt-get download writes into the current folder, which its unprivileged _apt sandbox user may not reach.
    if ! (cd "$cache_dir" && as_root apt-get download -q -o APT::Sandbox::User=root busybox-static:arm64); then
      warn "could not download busybox-static:arm64; arm64 image tests will fail"
      return 0
    fi
    deb=$(cached_arm64_busybox)
  fi
  if [[ -n "$deb" ]]; then
    export WAVE_TEST_ARM64_BUSYBOX_DEB="$deb"
  fi
}

# The Kubernetes control plane of the tests (etcd comes from etcd-server above). No registry serves a Kubernetes
# server; like envtest, the release binaries of the version the shared folder holds are downloaded when no folder has them.
kube_version=v1.24.17
provide_kube_assets() {
  local dir
  for dir in "${WAVE_TEST_KUBE_ASSETS:-}" "$repo/../shared/kube" /work/shared/kube; do
    if [[ -n "$dir" && -x "$dir/kube-apiserver" && -x "$dir/kube-controller-manager" ]]; then
      WAVE_TEST_KUBE_ASSETS=$(cd "$dir" && pwd -P)
      export WAVE_TEST_KUBE_ASSETS
      return 0
    fi
  done
  local arch target="$cache_dir/kube/$kube_version"
  case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64) arch=arm64 ;;
    *)
      warn "no Kubernetes binaries for $(uname -m); the Kubernetes tests will fail"
      return 0
      ;;
  esac
  local binary url expected
  for binary in kube-apiserver kube-controller-manager; do
    [[ -x "$target/$binary" ]] && continue
    mkdir -p "$target"
    url="https://dl.k8s.io/release/$kube_version/bin/linux/$arch/$binary"
    log "downloading $url"
    if ! curl -fsSL --retry 3 -o "$target/$binary.part" "$url" || ! expected=$(curl -fsSL --retry 3 "$url.sha256") ||
      [[ "$(sha256sum "$target/$binary.part" | cut -d' ' -f1)" != "$expected" ]]; then
      rm -f "$target/$binary.part"
      warn "could not download $binary $kube_version from dl.k8s.io; the Kubernetes tests will fail"
      return 0
    fi
    chmod 755 "$target/$binary.part"
    mv "$target/$binary.part" "$target/$binary"
  done
  export WAVE_TEST_KUBE_ASSETS="$target"
}

# RUN steps of arm64 builds execute through qemu-user-static.
enable_arm64_emulation() {
  local dir=/proc/sys/fs/binfmt_misc
  if [[ -f $dir/qemu-aarch64 ]] && head -n 1 "$dir/qemu-aarch64" | grep -qx enabled; then
    return 0
  fi
  if ! mountpoint -q "$dir"; then
    as_root mount -t binfmt_misc binfmt_misc "$dir" 2> /dev/null || {
      warn "cannot mount binfmt_misc; arm64 RUN steps will fail"
      return 0
    }
  fi
  as_root update-binfmts --enable qemu-aarch64 > /dev/null 2>&1 || warn "update-binfmts --enable qemu-aarch64 failed; arm64 RUN steps will fail"
}

# postgresql puts its server binaries (initdb, pg_ctl, postgres) outside PATH.
add_postgres_to_path() {
  if ! command -v initdb > /dev/null; then
    local bin
    bin=$(compgen -G "/usr/lib/postgresql/*/bin" | sort -V | tail -n 1 || true)
    if [[ -n "$bin" ]]; then
      export PATH="$bin:$PATH"
    fi
  fi
}

command -v dotnet > /dev/null || {
  log "the .NET SDK (dotnet) is not on PATH"
  exit 1
}
trap allow_service_starts EXIT
install_packages
fetch_arm64_busybox
enable_arm64_emulation
add_postgres_to_path
provide_kube_assets
trap - EXIT

# ---------------------------------------------------------------------------------------------------------------------
# The test run, and stopping whatever it left behind
# ---------------------------------------------------------------------------------------------------------------------

run_id="$(date +%s)-$$-$RANDOM"
# Unix socket paths must stay under 108 characters, so the run's temp folder must be short.
tmp_base="${TMPDIR:-/tmp}"
((${#tmp_base} <= 40)) || tmp_base=/tmp
run_tmp=$(mktemp -d "${tmp_base%/}/wave-test-XXXXXX")
# Like /tmp: servers that run as another user (postgres refuses root) keep their data in here too.
chmod 1777 "$run_tmp"
results_dir="$repo/TestResults"
rm -rf "$results_dir"

# Processes carrying this run's marker in their environment or naming its temp folder in their command line, and
# their descendants (a child may have been started with a clean environment).
run_processes() {
  local -A parent_of=()
  local pid ppid
  while read -r pid ppid; do parent_of[$pid]=$ppid; done < <(ps -e -o pid=,ppid=)
  local -A selected=()
  for pid in $(marked_processes); do selected[$pid]=1; done
  local changed=1
  while ((changed)); do
    changed=0
    for pid in "${!parent_of[@]}"; do
      if [[ -z "${selected[$pid]:-}" && -n "${selected[${parent_of[$pid]}]:-}" && $pid != "$$" ]]; then
        selected[$pid]=1
        changed=1
      fi
    done
  done
  if ((${#selected[@]} > 0)); then
    printf '%s\n' "${!selected[@]}"
  fi
}

marked_processes() {
  local proc pid ancestors=" $$ " parent=$$
  while ((parent > 1)); do
    parent=$(awk '/^PPid:/ { print $2 }' "/proc/$parent/status" 2> /dev/null || echo 1)
    ancestors+="$parent "
  done
  for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    [[ "$ancestors" == *" $pid "* ]] && continue
    local environment=() command_line=()
    mapfile -d '' environment 2> /dev/null < "$proc/environ" || continue
    mapfile -d '' command_line 2> /dev/null < "$proc/cmdline" || continue
    if [[ " ${environment[*]} " == *" WAVE_TEST_RUN_ID=$run_id "* || "${command_line[*]}" == *"$run_tmp"* ]]; then
      echo "$pid"
    fi
  done
}

cleanup() {
  local pids
  mapfile -t pids < <(run_processes)
  if ((${#pids[@]} > 0)); then
    local names=()
    for pid in "${pids[@]}"; do
      names+=("$pid:$(cat "/proc/$pid/comm" 2> /dev/null || echo gone)")
    done
    warn "stopping processes the tests left running: ${names[*]}"
    kill -TERM "${pids[@]}" 2> /dev/null || true
    for _ in $(seq 1 50); do
      mapfile -t pids < <(run_processes)
      ((${#pids[@]} > 0)) || break
      sleep 0.2
    done
    if ((${#pids[@]} > 0)); then
      kill -KILL "${pids[@]}" 2> /dev/null || true
    fi
  fi
  # Mounts a killed container engine left behind, deepest first, so that removing the folder stays inside it.
  awk -v prefix="$run_tmp/" 'index($5, prefix) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r mount; do as_root umount -l "$mount" 2> /dev/null || true; done
  rm -rf --one-file-system "$run_tmp" 2> /dev/null || warn "could not remove all of $run_tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "dotnet test Wave.sln $*"
set +e
env WAVE_TEST_RUN_ID="$run_id" TMPDIR="$run_tmp" DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 \
  dotnet test "$repo/Wave.sln" \
  --disable-build-servers \
  --logger trx --results-directory "$results_dir" \
  --blame-hang-timeout 10m --blame-hang-dump-type none \
  "$@" < /dev/null
dotnet_status=$?
set -e

cleanup
trap - EXIT

trx_files=()
if [[ -d "$results_dir" ]]; then
  mapfile -t trx_files < <(find "$results_dir" -name '*.trx' -type f | sort)
fi
set +e
totals=$(bash "$repo/scripts/trx-totals.sh" "${trx_files[@]}")
totals_status=$?
set -e

read -r passed _ failed _ _ <<< "${totals//,/}"
status=0
if ((dotnet_status != 0)); then
  log "dotnet test exited with $dotnet_status"
  status=1
fi
if ((totals_status != 0)); then
  log "a test result file was unreadable or incomplete"
  status=1
fi
if ((failed > 0)); then
  status=1
fi
if ((passed + failed == 0)); then
  log "no test ran"
  status=1
fi
echo "$totals"
exit "$status"
