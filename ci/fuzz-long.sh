#!/usr/bin/env bash
# ci/fuzz-long.sh - run one fuzz target as long as you like, then merge what
# it found into the checked-in corpus (docs/fuzzing.md).
#
#   ci/fuzz-long.sh TARGET [SECONDS] [-- extra libFuzzer flags]
#     TARGET   ops | open | crash | page
#     SECONDS  0 (default) = until Ctrl-C; the merge still runs afterwards
#
# New inputs go to build/fuzz-long/TARGET/new (libFuzzer writes into the
# FIRST corpus dir), never straight into fuzz/corpus/. Afterwards
# `fuzz_TARGET -merge=1 fuzz/corpus/TARGET new` copies in only the inputs
# that add coverage; review and commit them. A crash stops the run and
# leaves its reproducer in build/fuzz-long/TARGET/artifacts/: if the engine
# is at fault, move it to fuzz/pending/TARGET/ (see fuzz/pending/README.md);
# once fixed (or if the harness was wrong) it belongs in fuzz/corpus/TARGET/.
# Env: FUZZ_FORK=N runs N worker processes (-fork=N).
set -uo pipefail
cd "$(dirname "$0")/.."

t=${1:?usage: ci/fuzz-long.sh TARGET [SECONDS] [-- libFuzzer flags]}
shift
secs=0
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
    secs=$1
    shift
fi
[ "${1:-}" = "--" ] && shift
case "$t" in
ops | crash) max_len=4096 ;;
open) max_len=16384 ;;
page) max_len=8192 ;;
*)
    echo "unknown target $t (ops, open, crash, page)" >&2
    exit 2
    ;;
esac
[ "$t" = crash ] && max_len=1024

build=build/fuzz
dir=build/fuzz-long/$t
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang-14 -DCMAKE_BUILD_TYPE=Debug -DCOWTREE_FUZZ=ON \
    -DCOWTREE_TESTS=OFF -DCOWTREE_BENCH=OFF >/dev/null || exit 1
cmake --build "$build" -j2 --target "fuzz_$t" >/dev/null || exit 1
mkdir -p "$dir/new" "$dir/artifacts"
flags=(-timeout=10 -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1
    -artifact_prefix="$dir/artifacts/")
[ "$secs" != 0 ] && flags+=(-max_total_time="$secs")
[ -f "fuzz/dict/$t.dict" ] && flags+=(-dict="fuzz/dict/$t.dict")
[ -n "${FUZZ_FORK:-}" ] && flags+=(-fork="$FUZZ_FORK")

echo "fuzz_$t: running (${secs}s, 0 = until interrupted); log $dir/log"
trap 'echo "interrupted: merging"' INT
"$build/fuzz/fuzz_$t" "${flags[@]}" "$@" "$dir/new" "fuzz/corpus/$t" 2>&1 | tee "$dir/log" |
    grep -E '^#[0-9]+[[:space:]]+(DONE|pulse)|ERROR|SUMMARY|stat::' || true
trap - INT

before=$(ls "fuzz/corpus/$t" | wc -l)
"$build/fuzz/fuzz_$t" -merge=1 -max_len="$max_len" "fuzz/corpus/$t" "$dir/new" >"$dir/merge.log" 2>&1 ||
    echo "merge failed: see $dir/merge.log"
after=$(ls "fuzz/corpus/$t" | wc -l)
echo "fuzz_$t: corpus $before -> $after files (git status fuzz/corpus/$t to review)"
if [ -n "$(ls -A "$dir/artifacts")" ]; then
    echo "fuzz_$t: CRASH reproducers in $dir/artifacts/:"
    ls -l "$dir/artifacts"
    exit 1
fi
