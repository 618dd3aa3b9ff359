#!/usr/bin/env bash
# Installs a software Vulkan driver (Mesa's lavapipe, Mesa >= 25) so Dawn's WebGPU runs on
# Debian/Ubuntu machines without a GPU. Idempotent: does nothing when a WebGPU adapter already
# works, or when the right Mesa is already installed.
#
#   bash scripts/install-webgpu-driver.sh          # install if needed
#   TESSERA_FORCE_DRIVER=1 bash scripts/...         # skip the adapter probe
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

log() { echo "[install-webgpu-driver] $*"; }

probe_adapter() {
  # Succeeds when the `webgpu` package (installed in the workspace) finds an adapter.
  [ -d "$root/node_modules" ] || return 1
  (cd "$root" && timeout 60 node "$here/probe-webgpu.mjs" >/dev/null 2>&1)
}

mesa_version() {
  dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed -E 's/^[0-9]+://; s/^([0-9]+).*/\1/'
}

if [ -z "${TESSERA_FORCE_DRIVER:-}" ] && probe_adapter; then
  log "a WebGPU adapter already works; nothing to do"
  exit 0
fi

have="$(mesa_version || true)"
if [ -n "$have" ] && [ "$have" -ge 25 ] && dpkg -s libvulkan1 >/dev/null 2>&1; then
  log "Mesa $have lavapipe already installed"
  exit 0
fi

if [ ! -r /etc/os-release ]; then
  log "unknown OS: install a Vulkan driver (Mesa >= 25 lavapipe) by hand"; exit 1
fi
. /etc/os-release
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

case "${ID:-}:${VERSION_CODENAME:-}" in
  debian:bookworm)
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      log "adding bookworm-backports to apt sources"
      echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
    fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
    ;;
  debian:*|ubuntu:*)
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
    ;;
  *)
    log "unsupported distribution ${ID:-?}: install Mesa >= 25 lavapipe and libvulkan1 by hand"; exit 1
    ;;
esac
log "installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
