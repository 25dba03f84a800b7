#!/bin/sh
# examples/backend, the csv transport plug-in, built out of tree like any consumer: with
# examples/Makefile and `pkg-config papi` of the installed prefix alone (run.sh installs it and
# exports PKG_CONFIG_PATH and LD_LIBRARY_PATH). Then looked up through: the answer must be
# csv_expected.json's, with the plug-in's own option set by flag and by environment, and an
# unknown option or a bad value must be refused with a clear message; then csv_threads.c
# hammers the plug-in from four threads.
#
# usage: backend.sh EXAMPLES_DIR TESTS_DIR WORK_DIR CC SANITIZE_FLAGS
set -eu
examples=$1 tests=$2 work=$3 cc=$4 san=$5
mkdir -p "$work"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

echo "== make -f examples/Makefile backend (pkg-config only)"
make -s -f "$examples/Makefile" O="$work" CC="$cc" CFLAGS="$san" backend ||
    { echo "building examples/backend failed"; exit 1; }
lookup=$work/csv_lookup
ldd "$lookup" | grep -q "libpapi.so.0 => $LD_LIBRARY_PATH" ||
    { ldd "$lookup"; echo "csv_lookup does not load the installed libpapi"; exit 1; }

csv=$examples/backend/customers.csv
ids=1885,1,0042,3,2,7,1885 # repeats, an absent id and leading zeros

# expect NAME RC [GREP] -- ARGS...: runs csv_lookup ARGS, checks its exit code and that stderr
# holds GREP (a fixed string).
expect() {
    name=$1 want_rc=$2 want_err=$3
    shift 4
    rc=0
    "$lookup" "$@" >"$work/out" 2>"$work/err" || rc=$?
    if [ "$rc" != "$want_rc" ]; then
        cat "$work/err"
        fail "$name: exit $rc, expected $want_rc"
    elif [ -n "$want_err" ] && ! grep -qF -- "$want_err" "$work/err"; then
        cat "$work/err"
        fail "$name: stderr does not say: $want_err"
    fi
}
same_answer() {
    cmp -s "$work/out" "$tests/csv_expected.json" ||
        { diff "$tests/csv_expected.json" "$work/out" | head -20; fail "$1: not the expected answer"; }
}

echo "== lookup $ids"
expect "default delimiter" 0 "" -- "csv:$csv" "$ids"
same_answer "default delimiter"
head -c 300 "$work/out"; echo " ..."

# The same file with '|' between fields (the one comma inside a quoted field stays a comma).
awk 'BEGIN { q = 0 } { out = ""
    for (i = 1; i <= length($0); i++) { c = substr($0, i, 1)
        if (c == "\"") q = !q
        out = out ((c == "," && !q) ? "|" : c) }
    print out }' "$csv" >"$work/customers.psv"
echo "== --csv-delimiter '|' (the plug-in's option, set after attaching)"
expect "--csv-delimiter" 0 "" -- --csv-delimiter "|" "csv:$work/customers.psv" "$ids"
same_answer "--csv-delimiter"
echo "== PAPI_CSV_DELIMITER='|' (its environment variable)"
export PAPI_CSV_DELIMITER="|"
expect "PAPI_CSV_DELIMITER" 0 "" -- "csv:$work/customers.psv" "$ids"
same_answer "PAPI_CSV_DELIMITER"
echo "== the flag wins over the environment"
expect "flag over env" 0 "" -- --csv-delimiter , "csv:$csv" "$ids"
same_answer "flag over env"
unset PAPI_CSV_DELIMITER

echo "== refused: unknown option, bad values, bad files"
expect "unknown option" 2 "EINVAL: unknown option 'csv-delimeter'" -- --csv-delimeter , "csv:$csv" 1
expect "two-character delimiter" 3 "ECONFIG: csv-delimiter: one ASCII character is required" -- \
    --csv-delimiter ab "csv:$csv" 1
expect "quote as delimiter" 3 "csv-delimiter: one ASCII character" -- --csv-delimiter '"' "csv:$csv" 1
export PAPI_CSV_DELIMITER=ab
expect "bad environment value" 3 \
    "environment PAPI_CSV_DELIMITER: csv-delimiter: one ASCII character" -- "csv:$csv" 1
unset PAPI_CSV_DELIMITER
expect "out of range" 3 "csv-max-bytes: 0 is out of range 1..1073741824" -- --csv-max-bytes 0 "csv:$csv" 1
expect "file over the limit" 3 "larger than csv-max-bytes (100)" -- --csv-max-bytes 100 "csv:$csv" 1
expect "wrong delimiter for the file" 3 "line 3: a quote inside an unquoted field" -- "csv:$work/customers.psv" 1
expect "missing file" 3 "csv: cannot open $work/none.csv" -- "csv:$work/none.csv" 1
printf 'C_CUSTOMER_SK,C_FIRST_NAME\n1,Ann\n' >"$work/narrow.csv"
expect "missing column" 1 "ESOURCE: csv: the file has no column C_CUSTOMER_ID (dataset customer)" -- \
    "csv:$work/narrow.csv" 1
printf 'A,B\n1,"unterminated\n' >"$work/open.csv"
expect "unterminated quote" 3 "line 2: a quoted field does not end" -- "csv:$work/open.csv" 1
expect "bad id" 2 "EINVAL: id 2" -- "csv:$csv" 1,x

echo "== csv_threads: four threads through the plug-in"
rows=2000
awk -v n=$rows 'BEGIN {
    print "C_CUSTOMER_SK,C_CUSTOMER_ID,C_CURRENT_CDEMO_SK,C_CURRENT_HDEMO_SK,C_CURRENT_ADDR_SK," \
          "C_FIRST_SHIPTO_DATE_SK,C_FIRST_SALES_DATE_SK,C_SALUTATION,C_FIRST_NAME,C_LAST_NAME," \
          "C_PREFERRED_CUST_FLAG,C_BIRTH_DAY,C_BIRTH_MONTH,C_BIRTH_YEAR,C_BIRTH_COUNTRY,C_LOGIN," \
          "C_EMAIL_ADDRESS,C_LAST_REVIEW_DATE"
    for (i = n; i >= 1; i--)
        printf "%d,ID%d,%d,%d,%d,%d,%d,Mx.,First%d,\"Last, %d\",Y,%d,%d,%d,ICELAND,,p%d@example.com,%d\n",
            i, i, i, i, i, 2449000 + i, 2449000 + i, i, i, 1 + i % 28, 1 + i % 12, 1930 + i % 70, i, 2452000 + i
}' >"$work/many.csv"
# shellcheck disable=SC2086
$cc -std=c11 -Wall -Wextra -Werror -pedantic $san -pthread -I"$examples/backend" \
    -o "$work/csv_threads" "$tests/csv_threads.c" "$examples/backend/csv_transport.c" \
    $(pkg-config --cflags --libs papi) || { echo "building csv_threads failed"; exit 1; }
"$work/csv_threads" "csv:$work/many.csv" $rows || fail "csv_threads"

if [ "$fails" -ne 0 ]; then
    echo "backend: $fails check(s) failed"
    exit 1
fi
echo "backend: the csv transport plug-in built from the installed headers and answered as expected"
