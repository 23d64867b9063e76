#!/usr/bin/env bash
# ci/mutants.sh - shows that the simulator bites (docs/simulation.md).
#
# Copies the source to a temporary directory, builds cowtree-sim there
# (RelWithDebInfo, CT_DEBUG assertions on), checks that the true engine
# passes a fixed seed budget, then applies each sim/mutants/*.patch in turn
# (never a switch inside core/) and requires the simulator to catch it
# within the same budget. Prints the table of images each mutant needed.
# A patch whose header says "expect: survives" is an equivalent mutant:
# reported, never failing. A header line "sim-args: ARGS" adds ARGS to that
# mutant's budget (e.g. a durability mode the default budget does not
# draw), and "cflags: FLAGS" builds that mutant's simulator with FLAGS
# (e.g. -DCT_TXNID_WINDOW=8); the true engine must pass each such budget
# too.
#
# usage: ci/mutants.sh [--base-patch FILE]... [--seeds A..B] [--txns N] [--keep]
#   --base-patch  apply FILE to the copy before everything (e.g. to try the
#                 mutants over a candidate engine fix)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seeds=1..40
txns=16
keep=0
base_patches=()
while [ $# -gt 0 ]; do
    case "$1" in
    --base-patch) base_patches+=("$(realpath "$2")"); shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --txns) txns=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--base-patch FILE]... [--seeds A..B] [--txns N] [--keep]" >&2; exit 2 ;;
    esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/cowtree-mutants.XXXXXX")
cleanup() { if [ "$keep" = 0 ]; then rm -rf "$work"; else echo "kept $work"; fi; }
trap cleanup EXIT

mkdir -p "$work/src"
for d in CMakeLists.txt cmake include core pagestore tools sim; do
    if [ -e "$d" ]; then cp -a "$d" "$work/src/"; fi
done
for p in "${base_patches[@]}"; do
    (cd "$work/src" && patch -s -p1 < "$p")
done

cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCOWTREE_TESTS=OFF >/dev/null
# build [CFLAGS]: builds cowtree-sim from the copy, in a build of its own
# when a mutant's header asks for compiler flags (e.g. a small txn-id
# window); sets simbin.
build() {
    local dir=$work/build
    if [ -n "${1:-}" ]; then
        dir=$work/build-cflags
        cmake -S "$work/src" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOWTREE_TESTS=OFF \
            -DCMAKE_C_FLAGS="$1" >/dev/null
    fi
    simbin=$dir/sim/cowtree-sim
    cmake --build "$dir" --target cowtree-sim -j2 >"$work/build.log" 2>&1
}

sim_args=(--seeds "$seeds" --txns "$txns" --quiet)
# Runs the budget, plus any extra arguments; prints "rc images seed".
run_budget() {
    local out rc=0
    # shellcheck disable=SC2068
    out=$("$simbin" "${sim_args[@]}" $@ 2>/dev/null) || rc=$?
    local images seed
    images=$(printf '%s\n' "$out" | tail -n 1 | sed -n 's/.* images \([0-9]*\) .*/\1/p')
    seed=$(printf '%s\n' "$out" | sed -n 's/^FAIL seed=\([^ ]*\) phase=\([a-z]*\).*/\1(\2)/p' | head -n 1)
    echo "$rc ${images:-?} ${seed:--}"
}

echo "==> mutants: building the true engine"
build
read -r rc images seed <<<"$(run_budget)"
if [ "$rc" != 0 ]; then
    echo "mutants: the TRUE engine fails the budget (seed $seed): fix it first" >&2
    exit 1
fi
echo "true engine: passes cowtree-sim ${sim_args[*]} ($images images)"
# Each distinct (cflags, sim-args) pair of a mutant header: the true
# engine must pass that budget too.
header() { sed -n "s/^$1: *//p" "$2" | head -n 1; }
extra_budgets=$(for m in sim/mutants/*.patch; do
    printf '%s|%s\n' "$(header cflags "$m")" "$(header sim-args "$m")"
done | sort -u)
while IFS='|' read -r cflags extra; do
    [ -n "$cflags$extra" ] || continue
    build "$cflags"
    # shellcheck disable=SC2086
    read -r rc images seed <<<"$(run_budget $extra)"
    if [ "$rc" != 0 ]; then
        echo "mutants: the TRUE engine fails the budget with ${cflags:+$cflags }$extra (seed $seed): fix it first" >&2
        exit 1
    fi
    echo "true engine: passes cowtree-sim ${sim_args[*]} $extra${cflags:+ built with $cflags} ($images images)"
done <<<"$extra_budgets"

failed=0
printf '%-32s %-9s %-9s %12s  %s\n' mutant expect result images "first failing seed(phase)"
for m in sim/mutants/*.patch; do
    name=$(basename "$m" .patch)
    expect=$(sed -n 's/^expect: *//p' "$m" | head -n 1)
    expect=${expect:-caught}
    extra=$(header sim-args "$m")
    cflags=$(header cflags "$m")
    if ! (cd "$work/src" && patch -s -p1 --dry-run < "$root/$m" >/dev/null); then
        printf '%-32s %-9s %-9s\n' "$name" "$expect" "NO-APPLY"
        failed=1
        continue
    fi
    (cd "$work/src" && patch -s -p1 < "$root/$m")
    if build "$cflags"; then
        # shellcheck disable=SC2086
        read -r rc images seed <<<"$(run_budget $extra)"
        result=$([ "$rc" = 1 ] && echo caught || echo survived)
        [ "$rc" = 0 ] || [ "$rc" = 1 ] || result="error($rc)"
    else
        result="NO-BUILD"
        images=-
        seed=-
    fi
    (cd "$work/src" && patch -s -R -p1 < "$root/$m")
    printf '%-32s %-9s %-9s %12s  %s\n' "$name" "$expect" "$result" "$images" "$seed"
    if [ "$expect" != survives ] && [ "$result" != caught ]; then
        failed=1
    fi
done
if [ "$failed" != 0 ]; then
    echo "mutants: FAILED (a mutant was not caught, did not apply or did not build)" >&2
    exit 1
fi
echo "mutants: all caught"
