#!/usr/bin/env bash
# store.sh SIM LOSSY_PLUGIN - ctest sim_store: cowtree-sim over real stores.
#  1. Over the file store, a few seeds pass and trace exactly as over the
#     memory store with map off (one device model, whatever is underneath).
#  2. Over a plugin store that silently loses writes, the campaign fails.
set -euo pipefail
sim=$1
lossy=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/ct-simstore.XXXXXX")
trap 'rm -rf "$dir"' EXIT
args=(--seeds 1..3 --txns 12 --quiet --jobs 1)

mem=$("$sim" "${args[@]}" --map off | grep -o 'trace [0-9a-f]*')
file_out=$("$sim" "${args[@]}" --store "file:$dir")
file=$(grep -o 'trace [0-9a-f]*' <<<"$file_out")
echo "memory (map off): $mem; file store: $file"
grep -q 'store file:.*mismatching reads 0' <<<"$file_out"
[[ "$mem" == "$file" ]] || { echo "FAIL: traces differ"; exit 1; }
[[ -z "$(ls -A "$dir")" ]] || { echo "FAIL: files left in $dir"; ls "$dir"; exit 1; }

if "$sim" "${args[@]}" --store "plugin:$lossy:$dir" > "$dir/lossy.out" 2>&1; then
    echo "FAIL: the campaign over a store that loses writes passed"; cat "$dir/lossy.out"; exit 1
fi
grep -q 'FAIL' "$dir/lossy.out" || { cat "$dir/lossy.out"; exit 1; }
grep -m1 'FAIL' "$dir/lossy.out"
rm -f "$dir/lossy.out"
echo "sim_store: ok"
