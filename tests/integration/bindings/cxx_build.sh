#!/bin/sh
# Builds hpp_test.cpp with one named C++ compiler at -std=c++17 -Wall -Wextra -Werror -pedantic
# against the source headers and the built libpapi.so, then runs it on the demo database.
# usage: cxx_build.sh CXX SOURCE SRC_INCLUDE BUILD_INCLUDE LIBPAPI_SO DEMO_DB
set -eu
cxx=$1 src=$2 inc=$3 binc=$4 lib=$5 db=$6
command -v "$cxx" >/dev/null || { echo "$cxx is not installed"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/papi-hpp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
libdir=$(dirname "$lib")
echo "== $cxx $($cxx --version | head -n 1)"
"$cxx" -std=c++17 -Wall -Wextra -Werror -pedantic -Wshadow -Wconversion -Wsign-conversion \
    -I"$inc" -I"$binc" -o "$tmp/hpp_test" "$src" -L"$libdir" -lpapi -pthread
LD_LIBRARY_PATH="$libdir" timeout 120 "$tmp/hpp_test" "$db"
