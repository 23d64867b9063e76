#!/usr/bin/env bash
# ci/sim.sh - the simulator's CI job (docs/simulation.md). ci/test.sh runs it.
#
#   1. builds cowtree-sim in build/sim-ci (RelWithDebInfo: optimized, with the
#      engine's CT_DEBUG assertions on) and runs its --self-test;
#   2. exhaustive crash enumeration (--crash all: every store op of every
#      txn, every subset of up to 10 unsynced writes, tears, omit-one,
#      random orders, two levels deep on a share of the images, meta-loss
#      images) on fixed small workloads, all three durability modes, swarm, and
#      larger pages;
#   3. countdown error sweeps (read, write, sync, resize, allocation,
#      reads in the judging recovery; transient and sticky);
#   4. every random fault kind alone, then all together with swarm; the
#      default job (crash points, sweeps, faults) over the file store
#      (--store file:DIR, under /dev/shm when there is one: each sync is a
#      real fdatasync, which a disk makes 7x slower) and over the example
#      XOR store loaded as a plugin (examples/xorstore);
#   5. determinism: the same seeds run twice with different process layouts
#      must print the same summary and trace hash; over the file store the
#      trace equals the memory store's with map off;
#   6. every line of sim/regress-seeds;
#   7. a second build with a txn-id window of 8 ids (build/sim-window), so
#      the window's code paths run;
#   8. ci/mutants.sh (the simulator must catch every mutant).
# Exits non-zero on the first failing step, after printing its replay line.
# Environment: SIM_CI_QUICK=1 runs a smaller budget (local use).
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/sim-ci
jobs=2
echo "==> sim: configure and build ($build)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOWTREE_TESTS=OFF \
    -DCOWTREE_BENCH=OFF >/dev/null
cmake --build "$build" --target cowtree-sim ct_xorstore_plugin -j2 >/dev/null
sim=$build/sim/cowtree-sim
xorstore=$build/examples/xorstore/libct_xorstore.so

scale=1
if [ "${SIM_CI_QUICK:-0}" = 1 ]; then
    scale=4
fi
# seeds FIRST COUNT: "FIRST..LAST" with COUNT divided by the scale.
seeds() { echo "$1..$(($1 + ($2 + scale - 1) / scale - 1))"; }

total_images=0
summary() { grep '^seeds ' "$1" | tail -n 1; }
images_of() { sed -n 's/.* images \([0-9]*\) .*/\1/p' "$1" | tail -n 1; }

# run NAME ARGS...: runs the simulator, shows its summary, fails loudly.
run() {
    local name=$1
    shift
    local log
    log=$(mktemp)
    echo "==> sim: $name: cowtree-sim $*"
    if ! "$sim" --jobs "$jobs" --quiet "$@" >"$log" 2>&1; then
        cat "$log"
        rm -f "$log"
        echo "ci/sim.sh: FAILED: $name" >&2
        exit 1
    fi
    summary "$log"
    total_images=$((total_images + $(images_of "$log")))
    rm -f "$log"
}

start=$SECONDS

echo "==> sim: self-test"
"$sim" --self-test

# ---- 2. exhaustive crash enumeration ------------------------------------
run "crash, CT_SYNC_FULL" --seeds "$(seeds 1 200)" --txns 16 --durability full \
    --crash all --level2 4 --meta-loss 2 --deep 8 --sweeps 0 --rounds 0
run "crash, CT_SYNC_NONE" --seeds "$(seeds 1001 100)" --txns 16 --durability none \
    --crash all --level2 4 --deep 8 --sweeps 0 --rounds 0
run "crash, CT_SYNC_GROUP" --seeds "$(seeds 1501 60)" --txns 16 --durability group \
    --crash all --level2 4 --meta-loss 2 --deep 8 --sweeps 0 --rounds 0
run "crash, swarm" --seeds "$(seeds 2001 160)" --txns 24 --swarm \
    --crash all --level2 8 --meta-loss 4 --deep 6 --sweeps 0 --rounds 0
run "crash, 4096-byte pages" --seeds "$(seeds 3001 48)" --txns 16 --page-size 4096 \
    --crash all --level2 8 --meta-loss 4 --deep 6 --sweeps 0 --rounds 0
run "crash, 1024-byte pages, every read through read()" --seeds "$(seeds 3101 48)" \
    --txns 24 --page-size 1024 --map off --cache 2 --crash all --level2 8 --sweeps 0 --rounds 0

# ---- 3. countdown error sweeps --------------------------------------------
run "error sweeps, reads through read()" --seeds "$(seeds 4001 120)" --txns 12 --map off \
    --crash none --deep 0 --sweeps 12 --rounds 0
run "error sweeps, map()" --seeds "$(seeds 4201 60)" --txns 12 --map on \
    --crash none --deep 0 --sweeps 12 --rounds 0 --swarm
# Pages of several sectors: a failed write can tear a meta page (a 512-byte
# one is written whole or not at all), which CT_SYNC_NONE must survive.
run "error sweeps, 4096-byte pages, durability by seed" --seeds "$(seeds 4401 60)" --txns 12 \
    --page-size 4096 --durability seed --crash none --deep 0 --sweeps 12 --rounds 0

# ---- 4. random faults: each kind alone, then all with swarm -----------------
for kind in bit_rot misdirected lost_write lost_sync read_error write_error sync_error \
    nospace alloc misread; do
    run "faults: $kind" --seeds "$(seeds 5001 16)" --txns 30 --crash none --deep 0 \
        --sweeps 0 --faults "$kind" --rounds 100
done
run "faults: write_error,nospace, 4096-byte pages" --seeds "$(seeds 4501 16)" --txns 30 \
    --page-size 4096 --durability seed --crash none --deep 0 --sweeps 0 \
    --faults write_error,nospace --rounds 100
run "faults: all, swarm" --seeds "$(seeds 5101 200)" --txns 30 --swarm --crash none \
    --deep 0 --sweeps 0 --faults all --rounds 20
run "faults and sweeps: all, CT_SYNC_GROUP" --seeds "$(seeds 5401 60)" --txns 30 \
    --durability group --crash none --deep 0 --sweeps 12 --faults all --rounds 10

# Over a real store: the fault store stacked on the file store.
storedir=$(mktemp -d /dev/shm/ct-sim.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$storedir"' EXIT
run "default job over the file store" --seeds "$(seeds 6001 12)" --store "file:$storedir"
run "default job over the file store, 4096-byte pages" --seeds "$(seeds 6201 6)" \
    --store "file:$storedir" --page-size 4096 --durability seed
run "default job over the XOR example store (a plugin on the file store)" \
    --seeds "$(seeds 6101 6)" --store "plugin:$xorstore:$storedir"

# ---- 5. determinism: same seeds, different process layouts -------------------
echo "==> sim: determinism (seeds 1..12 twice: 1 job, then 3 jobs in reverse order)"
a=$("$sim" --seeds 1..12 --txns 14 --jobs 1 --quiet --keep-going | tail -n 1 |
    sed 's/ images\/s .*//')
b=$("$sim" --seeds 1..12 --txns 14 --jobs 3 --quiet --keep-going | tail -n 1 |
    sed 's/ images\/s .*//')
c=$(for s in 12 11 10 9 8 7 6 5 4 3 2 1; do
    "$sim" --seed "$s" --txns 14 --quiet | tail -n 1 | sed -n 's/.* trace \([0-9a-f]*\).*/\1/p'
done | tr '\n' ' ')
d=$(for s in 1 2 3 4 5 6 7 8 9 10 11 12; do
    "$sim" --seed "$s" --txns 14 --quiet | tail -n 1 | sed -n 's/.* trace \([0-9a-f]*\).*/\1/p'
done | tac | tr '\n' ' ')
if [ "$a" != "$b" ] || [ "$c" != "$d" ]; then
    echo "ci/sim.sh: FAILED: determinism" >&2
    printf '  %s\n  %s\n  %s\n  %s\n' "$a" "$b" "$c" "$d" >&2
    exit 1
fi
echo "$a"
echo "==> sim: determinism (seeds 1..6: file store = memory store with map off)"
e=$("$sim" --seeds 1..6 --txns 14 --quiet --map off | grep '^seeds ' | sed 's/ images\/s .*//')
f=$("$sim" --seeds 1..6 --txns 14 --quiet --store "file:$storedir" | grep '^seeds ' |
    sed 's/ images\/s .*//')
if [ "$e" != "$f" ]; then
    echo "ci/sim.sh: FAILED: the file store traces unlike the memory store" >&2
    printf '  %s\n  %s\n' "$e" "$f" >&2
    exit 1
fi
echo "$f"

# ---- 6. regression seeds ------------------------------------------------------
echo "==> sim: sim/regress-seeds"
n=0
while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in '' | '#'*) continue ;; esac
    n=$((n + 1))
    if [[ "$line" == seed=* ]]; then
        out=$("$sim" --replay "$line" 2>&1) || {
            echo "$out"
            echo "ci/sim.sh: FAILED: regress seed: $line" >&2
            exit 1
        }
    else
        # shellcheck disable=SC2086 # a line of flags
        out=$("$sim" --quiet $line 2>&1) || {
            echo "$out"
            echo "ci/sim.sh: FAILED: regress seed: $line" >&2
            exit 1
        }
    fi
    total_images=$((total_images + $(printf '%s\n' "$out" | tail -n 1 |
        sed -n 's/.* images \([0-9]*\) .*/\1/p')))
done <sim/regress-seeds
echo "$n regression cases pass"

# ---- 7. the txn-id window, shrunk so its code paths run --------------------------
# With the shipped window (2^20 ids) no workload reaches a CT_SYNC_NONE
# commit that syncs because half a window of ids went by, nor a fence that
# must skip a window of ids a crash left on pages. A build with a window
# of 8 ids does, every few txns; the simulator's id rule (ids only grow,
# across failed attempts and crashes) judges it.
echo "==> sim: a build with CT_TXNID_WINDOW=8 (build/sim-window)"
cmake -S . -B build/sim-window -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOWTREE_TESTS=OFF \
    -DCOWTREE_BENCH=OFF -DCMAKE_C_FLAGS="-DCT_TXNID_WINDOW=8" >/dev/null
cmake --build build/sim-window --target cowtree-sim -j2 >/dev/null
sim_shipped=$sim
sim=build/sim-window/sim/cowtree-sim
run "window of 8 ids, CT_SYNC_NONE, swarm" --seeds "$(seeds 8001 60)" --txns 40 \
    --durability none --swarm --sweeps 6 --rounds 4
run "window of 8 ids, durability by seed, write faults" --seeds "$(seeds 8101 30)" --txns 40 \
    --durability seed --crash none --deep 0 --sweeps 12 --faults write_error,nospace --rounds 40
sim=$sim_shipped

echo "==> sim: $total_images crash images checked in $((SECONDS - start)) s"

# ---- 8. mutants ------------------------------------------------------------------
if [ -x ci/mutants.sh ] && [ "${SIM_CI_QUICK:-0}" != 1 ]; then
    echo "==> sim: mutants"
    ci/mutants.sh
fi
echo "ci/sim.sh: all passed"
