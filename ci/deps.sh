#!/usr/bin/env bash
# ci/deps.sh - installs what cowtree's build and tests need on Debian 12,
# and only what is missing: a machine that has everything is left alone
# (no apt-get update, no sudo). Idempotent. Extra package names given as
# arguments are ensured too (e.g. `ci/deps.sh librocksdb-dev`).
set -euo pipefail

pkgs=(cmake gcc clang-14 libclang-rt-14-dev llvm-14 libcmocka-dev pkgconf
      libsqlite3-dev liblmdb-dev lmdb-utils make "$@")

if ! command -v dpkg >/dev/null 2>&1; then
    echo "deps: no dpkg here (not Debian?): install by hand: ${pkgs[*]}" >&2
    exit 0
fi

missing=()
for p in "${pkgs[@]}"; do
    # `dpkg -s` also succeeds for removed packages whose config remains.
    if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#pkgs[@]} packages present"
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "deps: missing ${missing[*]} and not root (no sudo)" >&2
        exit 1
    fi
    sudo=(sudo)
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
