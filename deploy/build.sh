#!/bin/sh
# Builds and installs papi and papi-httpd, then writes the demo database. The Dockerfile's build
# stage runs this, and so does tests/integration/httpd/test_deploy.py (into a temporary prefix),
# so the image's build steps are tested without a Docker engine.
#   PREFIX    install prefix                      (default /usr/local)
#   DEMO_DB   demo database path, baked in        (default /var/lib/papi/demo.db)
#   BUILD_DIR meson build directory               (default <source>/build-deploy)
#   JOBS      ninja parallelism                   (default 2)
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/usr/local}
DEMO_DB=${DEMO_DB:-/var/lib/papi/demo.db}
BUILD_DIR=${BUILD_DIR:-$SRC/build-deploy}
JOBS=${JOBS:-2}

meson setup "$BUILD_DIR" "$SRC" --prefix="$PREFIX" --buildtype=release \
    -Ddemo_db="$DEMO_DB" -Ddocs=false -Dfuzz=false
# Only what the image ships: the two programs (and so the shared library).
ninja -C "$BUILD_DIR" -j "$JOBS" cmd/papi-httpd/papi-httpd cmd/papi/papi
meson install -C "$BUILD_DIR" --no-rebuild --tags runtime

libdir=$(meson introspect "$BUILD_DIR" --buildoptions |
    python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"][0])')
case "$libdir" in /*) ;; *) libdir="$PREFIX/$libdir" ;; esac
mkdir -p "$(dirname "$DEMO_DB")"
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$PREFIX/bin/papi" demo-db "$DEMO_DB"
echo "installed papi-httpd in $PREFIX/bin, libpapi in $libdir, demo database $DEMO_DB"
