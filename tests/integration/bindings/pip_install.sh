#!/bin/sh
# `pip install` of bindings/python offline, with Debian's setuptools and pip only, into a
# throw-away venv; then the package's unittest suite against the installed copy (not the source
# tree), and a check that it really was the installed copy that ran.
# usage: pip_install.sh BINDINGS_PYTHON_DIR PYTHON   (env: PAPI_LIBRARY, PAPI_TEST_DB)
set -eu
src=$1 py=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/papi-pip.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# pip builds a local directory in place: copy it so the source tree gets no build/ or egg-info.
mkdir "$tmp/pkg"
cp -R "$src/pyproject.toml" "$src/README.md" "$src/src" "$tmp/pkg/"

"$py" -m venv --system-site-packages "$tmp/venv"
echo "== pip install --no-build-isolation --no-index"
"$tmp/venv/bin/python" -m pip install --no-build-isolation --no-index --disable-pip-version-check \
    --no-cache-dir "$tmp/pkg" >"$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log"; echo "pip install failed"; exit 1; }
tail -n 1 "$tmp/pip.log"

unset PYTHONPATH
cd "$tmp"
where=$("$tmp/venv/bin/python" -c 'import papi, os; print(os.path.realpath(papi.__file__))')
case $where in
    "$(realpath "$tmp/venv")"/*) echo "== imported from $where" ;;
    *) echo "papi was imported from $where, not from the venv"; exit 1 ;;
esac
"$tmp/venv/bin/python" -m pip show papi | grep -q '^Version: ' || { echo "pip show papi failed"; exit 1; }

echo "== unittest against the installed package"
cp -R "$src/tests" "$tmp/tests"
timeout 240 "$tmp/venv/bin/python" -m unittest discover -s "$tmp/tests" -p 'test_*.py'
