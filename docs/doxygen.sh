#!/bin/sh
# Runs doxygen on the project's Doxyfile with the generated papi_version.h as input too and the
# output under OUTDIR. Any doxygen warning (undocumented public symbol, bad @param, ...) makes it
# fail (WARN_AS_ERROR). With --self-test it first proves that on a header with an undocumented
# function, so that a passing run means something.
#
# usage: doxygen.sh SOURCE_ROOT VERSION_H OUTDIR [--self-test]
set -eu
srcroot=$1 version_h=$2 outdir=$3 selftest=${4:-}
doxygen=${DOXYGEN:-doxygen}

mkdir -p "$outdir"
PAPI_VERSION_H=$(cd "$(dirname "$version_h")" && pwd)/$(basename "$version_h")
PAPI_VERSION_H_DIR=$(dirname "$(dirname "$PAPI_VERSION_H")")
export PAPI_VERSION_H PAPI_VERSION_H_DIR
outdir=$(cd "$outdir" && pwd)

if [ "$selftest" = --self-test ]; then
    bad=$outdir/selftest
    rm -rf "$bad"
    mkdir -p "$bad/in"
    printf '/** @file bad.h\n * @brief Self-test input. */\nint papi_undocumented(int x);\n' >"$bad/in/bad.h"
    if { cat "$srcroot/Doxyfile"; echo "INPUT = $bad/in"; echo "OUTPUT_DIRECTORY = $bad/out"; } |
        (cd "$srcroot" && "$doxygen" -) >"$bad/log" 2>&1; then
        cat "$bad/log"
        echo "doxygen self-test: an undocumented function did not fail the run"
        exit 1
    fi
    grep -q "papi_undocumented" "$bad/log" || { cat "$bad/log"; echo "doxygen self-test: no warning named the function"; exit 1; }
    echo "doxygen self-test: an undocumented function fails the run, as it should"
fi

log=$outdir/doxygen.log
status=0
{ cat "$srcroot/Doxyfile"; echo "OUTPUT_DIRECTORY = $outdir"; echo "WARN_AS_ERROR = FAIL_ON_WARNINGS"; } |
    (cd "$srcroot" && "$doxygen" -) >"$log" 2>&1 || status=$?
cat "$log"
if [ "$status" -ne 0 ] || grep -qi "warning:" "$log"; then
    echo "doxygen: warnings or errors (exit $status); see above"
    exit 1
fi
test -f "$outdir/html/papi_8h.html" || { echo "doxygen: no page for papi.h"; exit 1; }
test -f "$outdir/html/papi__version_8h.html" || { echo "doxygen: no page for papi_version.h"; exit 1; }
echo "doxygen: API reference in $outdir/html, no warnings"
