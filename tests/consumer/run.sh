#!/bin/sh
# Installs the build into a temporary prefix (meson install --destdir) and builds one C and one C++
# program against it with nothing but `pkg-config --cflags --libs papi`, then the C program again
# linked statically against libpapi.a with papi.pc's Libs.private and Requires.private, then
# examples/backend (a transport plug-in: backend.sh). Each is run and must succeed.
#
# usage: run.sh BUILD_ROOT PREFIX LIBDIR SOURCE_DIR CC CXX SANITIZE [PAPI_TOOL]
#   PAPI_TOOL, when given, makes a small demo database for the C program's SQLite lookup.
set -eu

build_root=$1 prefix=$2 libdir=$3 srcdir=$4 cc=$5 cxx=$6 sanitize=$7 papi_tool=${8:-}
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/papi-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
root=$tmp/root

echo "== meson install --destdir $root"
if ! meson install -C "$build_root" --no-rebuild --destdir "$root" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    echo "meson install failed"
    exit 1
fi

pcdir=$root$libdir/pkgconfig
test -f "$pcdir/papi.pc" || { echo "papi.pc not installed in $pcdir"; exit 1; }
test -f "$root$prefix/include/papi/papi.h" || { echo "papi.h not installed"; exit 1; }
test -f "$root$prefix/include/papi/papi_version.h" || { echo "papi_version.h not installed"; exit 1; }
test -e "$root$libdir/libpapi.so.0" || { echo "libpapi.so.0 not installed in $root$libdir"; exit 1; }
test -f "$root$libdir/libpapi.a" || { echo "libpapi.a not installed in $root$libdir"; exit 1; }

# The .pc file says prefix=$prefix; relocate the copy so that it describes the temporary prefix,
# exactly as if it had been installed there. Only papi's own paths move: its Requires.private
# (libcurl, jansson, ...) still resolve from the system.
sed "s|^prefix=.*|prefix=$root$prefix|" "$pcdir/papi.pc" >"$tmp/papi.pc.new"
mv "$tmp/papi.pc.new" "$pcdir/papi.pc"
export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

echo "== papi.pc"
cat "$pcdir/papi.pc"
echo "== pkg-config --cflags --libs papi: $(pkg-config --cflags --libs papi)"
echo "== pkg-config --static --libs papi: $(pkg-config --static --libs papi)"
pkg-config --exists --print-errors papi
test "$(pkg-config --modversion papi)" = "$(sed -n 's/^#define PAPI_VERSION_STRING "\(.*\)"/\1/p' "$root$prefix/include/papi/papi_version.h")" ||
    { echo "pkg-config --modversion does not match papi_version.h"; exit 1; }

san=
if [ "$sanitize" != none ] && [ -n "$sanitize" ]; then
    san="-fsanitize=$sanitize"
fi
warn="-Wall -Wextra -Werror -pedantic"

db=
if [ -n "$papi_tool" ] && [ -x "$papi_tool" ]; then
    db=$tmp/demo.db
    "$papi_tool" demo-db "$db" --rows 10 >/dev/null || { echo "papi demo-db failed"; exit 1; }
fi

# No rpath: the dynamic programs must find the installed library, not the build tree's.
export LD_LIBRARY_PATH="$root$libdir"

echo "== C, shared"
# shellcheck disable=SC2046,SC2086
$cc -std=c11 $warn $san -o "$tmp/consumer_c" "$srcdir/consumer.c" $(pkg-config --cflags --libs papi)
ldd "$tmp/consumer_c" | grep "libpapi.so.0 => $root" >/dev/null ||
    { ldd "$tmp/consumer_c"; echo "consumer_c does not load the installed libpapi.so.0"; exit 1; }
"$tmp/consumer_c" $db

echo "== C++, shared"
# shellcheck disable=SC2046,SC2086
$cxx -std=c++17 $warn $san -o "$tmp/consumer_cpp" "$srcdir/consumer.cpp" $(pkg-config --cflags --libs papi)
"$tmp/consumer_cpp"

echo "== C, static libpapi.a (Libs.private + Requires.private of papi.pc)"
# libpapi itself is linked statically, with papi.pc's own Libs.private, and the packages in its
# Requires.private are linked as their pkg-config files say. They stay shared: Debian ships no
# static archives for libcurl's own dependencies (nghttp2, rtmp, ssh2, ldap, ...), so
# `pkg-config --static` through libcurl cannot link here. What this proves is that papi.pc names
# everything libpapi.a needs.
own_private=$(sed -n 's/^Libs\.private: *//p' "$pcdir/papi.pc")
own_libs=$(pkg-config --libs papi | sed 's/\(^\| \)-lpapi\( \|$\)/\1-Wl,-Bstatic -lpapi -Wl,-Bdynamic\2/')
own_libs="$own_libs $own_private"
requires_private=$(pkg-config --print-requires-private papi | awk '{ print $1 }')
# shellcheck disable=SC2086
dep_libs=$(pkg-config --libs $requires_private)
echo "   link: $own_libs $dep_libs"
# shellcheck disable=SC2046,SC2086
$cc -std=c11 $warn $san -o "$tmp/consumer_static" "$srcdir/consumer.c" $(pkg-config --static --cflags papi) $own_libs $dep_libs
if readelf -d "$tmp/consumer_static" | grep -q 'NEEDED.*libpapi'; then
    echo "consumer_static still needs libpapi.so"; exit 1
fi
LD_LIBRARY_PATH= "$tmp/consumer_static" $db

echo "== examples/backend: a transport plug-in built out of tree (backend.sh)"
command -v make >/dev/null || { echo "make is not installed (scripts/deps)"; exit 77; }
sh "$srcdir/backend.sh" "$srcdir/../../examples" "$srcdir" "$tmp/backend" "$cc" "$san"

echo "consumer: all programs built against the installed libpapi ran ok"
