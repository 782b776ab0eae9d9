#!/usr/bin/env bash
# Installs what convkit needs on a Debian machine, then builds it.
# Idempotent: a second run only checks. Usage: bash scripts/setup.sh [--with-test-deps]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: oneDNN for the native backend; a font for text in PNG figures; Chromium for the browser tests.
apt_pkgs=(libdnnl-dev fonts-dejavu-core fontconfig-config)
if [[ "${1:-}" == "--with-test-deps" ]]; then apt_pkgs+=(chromium); fi

missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "convkit setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "convkit setup: missing Debian packages: ${missing[*]}" >&2
    echo "  run as root:  apt-get update && apt-get install -y ${missing[*]}" >&2
    echo "  (without libdnnl-dev convkit falls back to the slower wasm backend; without chromium the browser tests are skipped)" >&2
  fi
fi

# npm packages (also builds the native addon through the package's install script).
stamp=node_modules/.convkit-installed
if [[ ! -f $stamp || package-lock.json -nt $stamp || package.json -nt $stamp ]]; then
  # onnxruntime-node (tests only) ships its CPU runtime; its post-install would download a GPU one.
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
elif [[ -f binding.gyp ]]; then
  # Rebuild the addon when it is missing or older than its sources.
  addon=build/Release/convkit_native.node
  if [[ ! -f $addon ]] || [[ -n $(find native binding.gyp -newer "$addon" -print -quit) ]]; then
    node scripts/build-native.mjs
  fi
fi

npm run --silent build
