#!/usr/bin/env bash
# ci/proptest.sh - the property tests' CI job (docs/proptest.md).
#
#   1. builds cowtree-proptest in build/proptest-ci (RelWithDebInfo without
#      -DNDEBUG: optimized, and CT_ASSERT, which is assert(), really on);
#   2. runs a fixed budget: 6 seeds x 1,000 cases at up to 200 ops (every
#      property round-robin: model, sqlite, lmdb, snapshot, reopen), then
#      200 cases at up to 1,000 ops (deeper trees), 6,200 cases in all;
#   3. replays every proptest/regress/*.txt (shrunk cases kept as tests);
#   4. ci/proptest-mutants.sh: each mutant must be caught and shrink to at
#      most 10 ops.
# Exits non-zero on the first failure, after printing the shrunk case and
# its replay command.
# Environment:
#   PROPTEST_CASES=N  cases per seed in step 2 (default 1000; raise it for
#                     long runs, e.g. PROPTEST_CASES=100000)
#   PROPTEST_SEEDS="1 2 3"  the seeds of step 2 (default 1..6)
#   PROPTEST_QUICK=1  skips the mutants (local use)
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/proptest-ci
echo "==> proptest: configure and build ($build)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g" -DCOWTREE_TESTS=OFF \
    -DCOWTREE_BENCH=OFF >/dev/null
cmake --build "$build" --target cowtree-proptest -j2 >/dev/null
bin=$build/proptest/cowtree-proptest
out=$build/failures
mkdir -p "$out"

cases=${PROPTEST_CASES:-1000}
seeds=${PROPTEST_SEEDS:-"1 2 3 4 5 6"}
start=$SECONDS
total=0
run() {
    echo "==> proptest: cowtree-proptest $*"
    local log
    log=$(mktemp)
    if ! "$bin" --quiet --out "$out" "$@" >"$log" 2>&1; then
        cat "$log"
        rm -f "$log"
        echo "ci/proptest.sh: FAILED: cowtree-proptest $* (replay file in $out)" >&2
        exit 1
    fi
    tail -n 1 "$log"
    total=$((total + $(tail -n 1 "$log" | sed -n 's/.*: \([0-9]*\) cases .*/\1/p')))
    rm -f "$log"
}

for s in $seeds; do
    run --seed "$s" --cases "$cases" --max-ops 200
done
run --seed 1001 --cases $((cases / 5)) --max-ops 1000

echo "==> proptest: proptest/regress/*.txt"
n=0
for f in proptest/regress/*.txt; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    if ! "$bin" --replay "$f"; then
        echo "ci/proptest.sh: FAILED: regression case $f" >&2
        exit 1
    fi
done
echo "$n regression cases pass"
echo "==> proptest: $total cases passed in $((SECONDS - start)) s"

if [ "${PROPTEST_QUICK:-0}" != 1 ]; then
    echo "==> proptest: mutants"
    ci/proptest-mutants.sh
fi
echo "ci/proptest.sh: all passed"
