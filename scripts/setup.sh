#!/usr/bin/env bash
# One-time setup on a fresh machine with Node >= 20 and npm: pnpm, the workspace's packages, and
# (on Debian/Ubuntu without a GPU, as root or with sudo) Mesa's lavapipe so WebGPU runs in Node.
# Idempotent: re-running it does only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PNPM_VERSION=10.34.8
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "[setup] installing pnpm@$PNPM_VERSION with npm"
  npm install -g --silent "pnpm@$PNPM_VERSION" >/dev/null
fi
echo "[setup] installing workspace packages"
if [ -n "${CI:-}" ]; then pnpm install --frozen-lockfile --reporter=silent; else pnpm install --reporter=silent; fi
if [ "$(id -u)" = "0" ] || command -v sudo >/dev/null 2>&1; then
  bash scripts/install-webgpu-driver.sh || echo "[setup] could not install a WebGPU driver; the cpu backend still works (tests then need TESSERA_BACKENDS=cpu)"
else
  echo "[setup] not root and no sudo: skipping the WebGPU driver (tests need TESSERA_BACKENDS=cpu without one)"
fi
