#!/usr/bin/env bash
# tests/install/check.sh BUILD_DIR SOURCE_DIR - installs the build into a
# temporary prefix and builds examples/hello.c against the installed copy
# three ways: CMake find_package(cowtree) (cowtree::cowtree), pkg-config
# (shared), and pkg-config --static; each program must run on a real file.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cowtree-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/include/cowtree.h"
test -x "$prefix/bin/cowtree"
test -f "$prefix/share/man/man1/cowtree.1"
test -f "$prefix/share/man/man3/cowtree.3"
"$prefix/bin/cowtree" --help >/dev/null
test -f "$prefix/include/cowtree/pagestore.h"
test -f "$prefix/include/cowtree/storecheck.h"
test -f "$prefix/include/cowtree/tracestore.h"
"$prefix/bin/cowtree-storecheck" --list >/dev/null
libdir=$(dirname "$(find "$prefix" -name cowtree.pc | head -n 1)")/..
test -f "$libdir/libcowtree.a"
ls "$libdir"/libcowtree.so.* >/dev/null

echo "-- find_package(cowtree)"
mkdir -p "$tmp/consumer"
cat >"$tmp/consumer/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(cowtree 0.1 REQUIRED)
add_executable(hello "$src/examples/hello.c")
target_link_libraries(hello PRIVATE cowtree::cowtree)
CMAKE
cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/consumer/build" >/dev/null
"$tmp/consumer/build/hello" "$tmp/a.cowtree" >/dev/null

export PKG_CONFIG_PATH=$libdir/pkgconfig
cc=${CC:-cc}
echo "-- pkg-config --libs cowtree (shared)"
# shellcheck disable=SC2046
$cc -o "$tmp/hello-pc" "$src/examples/hello.c" $(pkg-config --cflags --libs cowtree)
LD_LIBRARY_PATH=$libdir "$tmp/hello-pc" "$tmp/b.cowtree" >/dev/null
# ldd's output is captured first: with pipefail, `ldd | grep -q` fails
# whenever grep exits before ldd has written everything (SIGPIPE).
deps=$(ldd "$tmp/hello-pc")
if grep -q 'libcowtree.so' <<<"$deps"; then :; else
    echo "hello-pc is not linked to the shared library" >&2
    exit 1
fi

echo "-- pkg-config --static --libs cowtree"
# shellcheck disable=SC2046
$cc -o "$tmp/hello-static" "$src/examples/hello.c" $(pkg-config --static --cflags cowtree) \
    "$libdir/libcowtree.a" $(pkg-config --static --libs-only-other --libs-only-l cowtree | sed 's/-lcowtree//')
"$tmp/hello-static" "$tmp/c.cowtree" >/dev/null
deps=$(ldd "$tmp/hello-static")
if grep -q 'libcowtree.so' <<<"$deps"; then
    echo "hello-static still needs the shared library" >&2
    exit 1
fi

echo "-- exported symbols: only the public ct_ API"
bad=$(nm -D --defined-only "$libdir/libcowtree.so" | awk '{print $3}' | grep -v '^ct_[a-z]' || true)
if [ -n "$bad" ]; then
    echo "symbols outside the public API are exported:" >&2
    echo "$bad" >&2
    exit 1
fi
echo "install check: passed"
