#!/usr/bin/env bash
# ci/main.sh - THE main job (README): install what is missing, build the
# release preset, run the default crash-simulation campaign (when the
# simulator exists), then run examples/hello on a real file in a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/deps.sh
echo "==> release build"
cmake --preset release
cmake --build --preset release -j2

sim=build/release/sim/cowtree-sim
if [ -x "$sim" ]; then
    echo "==> crash-simulation campaign: $sim"
    "$sim"
else
    echo "==> $sim not built (no sim/ yet): campaign skipped"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cowtree-main.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "==> examples/hello on $tmp/hello.cowtree"
build/release/examples/hello "$tmp/hello.cowtree"
echo "ci/main.sh: done"
