#!/usr/bin/env bash
# cli_test.sh TOOL BROKEN_PLUGIN TMPDIR - exit codes and output of
# cowtree-storecheck: 0 when every check passes, 1 on violations (each
# printed with its check), 2 on usage errors and unopenable stores.
set -u
tool=$1
plugin=$2
tmp=$3
fails=0
expect() { # expect CODE PATTERN ARGS...: exit code CODE, output matching PATTERN
    local want=$1 pattern=$2
    shift 2
    local out rc
    out=$("$tool" "$@" 2>&1)
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "FAILED: cowtree-storecheck $* exited $rc, expected $want" >&2
        echo "$out" | tail -n 5 >&2
        fails=$((fails + 1))
    elif [ -n "$pattern" ] && ! grep -qE -- "$pattern" <<<"$out"; then
        echo "FAILED: cowtree-storecheck $*: no line matching /$pattern/" >&2
        echo "$out" | tail -n 5 >&2
        fails=$((fails + 1))
    fi
}
expect 2 "usage"
expect 2 "usage" --bogus memory
expect 2 "usage" memory memory
expect 2 "bad --page-sizes" --page-sizes 512,,4096 memory
expect 2 "bad page size 1000" --page-sizes 1000 memory
expect 2 "unknown store" nosuchstore
expect 2 "cannot open" plugin:"$tmp"/missing.so:x
expect 2 "bad options" --only no-such-check memory
expect 2 "bad --seed" --seed abc memory
expect 2 "bad --seed" --seed -5 memory
printf 'precious' >"$tmp"/precious.pages
expect 2 "exists and is not empty" file:"$tmp"/precious.pages
if [ "$(cat "$tmp"/precious.pages)" != "precious" ]; then
    echo "FAILED: cowtree-storecheck changed a file it refused" >&2
    fails=$((fails + 1))
fi
expect 0 "^durability$" --list
expect 0 "^ok   resize +page size 512" --page-sizes 512 memory
expect 0 "not applicable" --quiet --page-sizes 512,65536 memory
expect 0 "0 violations" --page-sizes 4096 plugin:"$plugin":0
expect 1 "violation: resize: .*old bytes must not come back" --page-sizes 4096 plugin:"$plugin":4
expect 1 "^FAIL return-codes" --quiet --page-sizes 512 plugin:"$plugin":5
expect 1 "^FAIL durability" --only durability --page-sizes 512 plugin:"$plugin":7
if out=$("$tool" --quiet --page-sizes 4096 memory) && grep -q "^ok" <<<"$out"; then
    echo "FAILED: --quiet still prints ok lines" >&2
    fails=$((fails + 1))
fi
[ "$fails" -eq 0 ] && echo "storecheck cli: passed"
exit "$fails"
