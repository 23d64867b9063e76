#!/usr/bin/env bash
# ci/proptest-mutants.sh - shows that the property tests bite
# (docs/proptest.md, "Shown to bite").
#
# Copies the source to a temporary directory (never a switch inside core/),
# builds cowtree-proptest there (RelWithDebInfo without -DNDEBUG, so
# CT_ASSERT, which is assert(), is really on; an assert is a failure too),
# checks that the true engine passes the budget, then applies each mutant
# in turn: proptest/mutants/*.patch, and the sim/mutants/*.patch whose
# bug is visible without a crash (listed in SIM_MUTANTS below). For each
# one the run must FAIL within the budget and shrink to at most MAX_OPS
# ops. Prints a table: mutant, result, ops before and after shrinking.
# A patch whose header says "expect: survives" is reported, never failing.
#
# usage: ci/proptest-mutants.sh [--cases N] [--max-ops M] [--seed S] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

cases=500
max_ops=200
seed=1
keep=0
MAX_OPS=10
# Simulator mutants whose bug a crash-free run can see (snapshots). They
# are written against the simulator's engine version: one that no longer
# applies is reported as stale and skipped (proptest/mutants/ has its own
# current copy of the ones that matter).
SIM_MUTANTS=(sim/mutants/03-reuse-ignores-reader.patch)
while [ $# -gt 0 ]; do
    case "$1" in
    --cases) cases=$2; shift 2 ;;
    --max-ops) max_ops=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--cases N] [--max-ops M] [--seed S] [--keep]" >&2; exit 2 ;;
    esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/cowtree-proptest-mutants.XXXXXX")
cleanup() { if [ "$keep" = 0 ]; then rm -rf "$work"; else echo "kept $work"; fi; }
trap cleanup EXIT

mkdir -p "$work/src" "$work/out"
for d in CMakeLists.txt cmake include core pagestore tools proptest; do
    if [ -e "$d" ]; then cp -a "$d" "$work/src/"; fi
done

cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g" -DCOWTREE_TESTS=OFF -DCOWTREE_BENCH=OFF >/dev/null
build() { cmake --build "$work/build" --target cowtree-proptest -j2 >"$work/build.log" 2>&1; }
bin=$work/build/proptest/cowtree-proptest

# Runs the budget; prints "rc ops_before ops_after property case".
run_budget() {
    local log=$work/run.log rc=0
    rm -f "$work"/out/*
    "$bin" --seed "$seed" --cases "$cases" --max-ops "$max_ops" --quiet \
        --out "$work/out" >"$log" 2>&1 || rc=$?
    local before after prop
    after=$(sed -n 's/^shrunk to \([0-9]*\) ops (from \([0-9]*\)).*/\1/p' "$log" | head -n 1)
    before=$(sed -n 's/^shrunk to \([0-9]*\) ops (from \([0-9]*\)).*/\2/p' "$log" | head -n 1)
    prop=$(sed -n 's/^FAIL property=\([a-z]*\) .*/\1/p' "$log" | head -n 1)
    local index
    index=$(sed -n 's/^FAIL property=[a-z]* case=\([0-9]*\) .*/\1/p' "$log" | head -n 1)
    echo "$rc ${before:--} ${after:--} ${prop:--} ${index:--}"
}

echo "==> proptest mutants: building the true engine"
build
read -r rc before after prop index <<<"$(run_budget)"
if [ "$rc" != 0 ]; then
    cat "$work/run.log" >&2
    echo "proptest-mutants: the TRUE engine fails the budget: fix it first" >&2
    exit 1
fi
echo "true engine: passes cowtree-proptest --seed $seed --cases $cases --max-ops $max_ops"

failed=0
printf '%-40s %-8s %-9s %-9s %6s %7s %6s\n' mutant expect result property case ops shrunk
for m in proptest/mutants/*.patch "${SIM_MUTANTS[@]}"; do
    [ -e "$m" ] || continue
    name=$(basename "$m" .patch)
    expect=$(sed -n 's/^expect: *//p' "$m" | head -n 1)
    expect=${expect:-caught}
    if ! (cd "$work/src" && patch -s -p1 --dry-run <"$root/$m" >/dev/null 2>&1); then
        case "$m" in
        sim/*) printf '%-40s %-8s %-9s\n' "sim:$name" "$expect" "stale (does not apply): skipped" ;;
        *) printf '%-40s %-8s %-9s\n' "$name" "$expect" "NO-APPLY"; failed=1 ;;
        esac
        continue
    fi
    case "$m" in sim/*) name="sim:$name"; expect=caught ;; esac
    (cd "$work/src" && patch -s -p1 <"$root/$m")
    if build; then
        read -r rc before after prop index <<<"$(run_budget)"
        if [ "$rc" = 1 ] && [ "$after" != - ] && [ "$after" -le "$MAX_OPS" ]; then
            result=caught
        elif [ "$rc" = 1 ]; then
            result=too-big
        elif [ "$rc" = 0 ]; then
            result=survived
        else
            result="error($rc)"
        fi
        if [ "$result" != caught ]; then
            tail -n 30 "$work/run.log" >&2 || true
        fi
    else
        result=NO-BUILD
        index=-
        before=-
        after=-
        prop=-
    fi
    (cd "$work/src" && patch -s -R -p1 <"$root/$m")
    mkdir -p "$work/found"
    for f in "$work"/out/proptest-fail-*.txt; do
        [ -e "$f" ] && cp "$f" "$work/found/${name#sim:}.txt"
    done
    printf '%-40s %-8s %-9s %-9s %6s %7s %6s\n' "$name" "$expect" "$result" "$prop" "$index" \
        "$before" "$after"
    if [ "$expect" != survives ] && [ "$result" != caught ]; then
        failed=1
    fi
done
if [ "$failed" != 0 ]; then
    echo "proptest-mutants: FAILED (a mutant was not caught, not shrunk to <= $MAX_OPS ops," \
        "did not apply or did not build)" >&2
    exit 1
fi
echo "proptest-mutants: all caught, each shrunk to <= $MAX_OPS ops"
