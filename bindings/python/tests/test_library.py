"""How papi finds libpapi: PAPI_LIBRARY, then pkg-config, then the system loader."""

import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

import papi

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(papi.__file__)))


def run_probe(env_changes, code):
    """Runs code in a fresh interpreter (the library is loaded once per process)."""
    env = dict(os.environ)
    for k, v in env_changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    env["PYTHONPATH"] = PKG_PARENT
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=60)


def built_library():
    lib = os.environ.get("PAPI_LIBRARY")
    if not lib or not os.path.isfile(lib):
        raise unittest.SkipTest("PAPI_LIBRARY does not name the built library")
    return os.path.realpath(lib)


class FindLibraryTest(unittest.TestCase):
    def test_env_file(self):
        lib = built_library()
        p = run_probe({"PAPI_LIBRARY": lib},
                      "import papi; print(papi.load_library()._papi_path, papi.version())")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split()[0], lib)

    def test_env_directory(self):
        lib = built_library()
        libdir = os.path.dirname(lib)
        if not os.path.exists(os.path.join(libdir, "libpapi.so.0")):
            self.skipTest("no libpapi.so.0 next to the built library")
        p = run_probe({"PAPI_LIBRARY": libdir},
                      "import papi; print(papi.load_library()._papi_path)")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), os.path.join(libdir, "libpapi.so.0"))

    def test_pkg_config_libdir(self):
        lib = built_library()
        libdir = os.path.dirname(lib)
        with tempfile.TemporaryDirectory() as pc:
            with open(os.path.join(pc, "papi.pc"), "w") as f:
                f.write("prefix=/nowhere\nlibdir=%s\nincludedir=/nowhere/include\n\n"
                        "Name: papi\nDescription: test\nVersion: 0.1.0\n"
                        "Libs: -L${libdir} -lpapi\nCflags: -I${includedir}\n" % libdir)
            p = run_probe({"PAPI_LIBRARY": None, "PKG_CONFIG_PATH": pc,
                           "PKG_CONFIG_LIBDIR": pc},
                          "import papi; print(papi.load_library()._papi_path)")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(os.path.dirname(p.stdout.strip()), libdir)

    def test_not_found_lists_what_was_tried(self):
        with tempfile.TemporaryDirectory() as empty:
            p = run_probe({"PAPI_LIBRARY": os.path.join(empty, "libpapi.so.0"),
                           "PKG_CONFIG_PATH": empty, "PKG_CONFIG_LIBDIR": empty,
                           "LD_LIBRARY_PATH": None},
                          """
                          import papi
                          try:
                              papi.Client(source="sqlite:/x.db")
                          except papi.LibraryNotFound as e:
                              assert isinstance(e, ImportError)
                              print(e)
                              raise SystemExit(3)
                          except Exception:
                              pass  # found one: the caller skips
                          """)
        if p.returncode == 0:
            self.skipTest("a libpapi is installed system-wide")
        self.assertEqual(p.returncode, 3, p.stderr)
        for part in ("PAPI_LIBRARY", "does not exist", "pkg-config", "find_library",
                     "system loader", "libpapi.so.0"):
            self.assertIn(part, p.stdout)

    def test_import_needs_no_library(self):
        p = run_probe({"PAPI_LIBRARY": "/nonexistent/libpapi.so.0"},
                      "import papi; print(papi.__version__)")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), papi.__version__)


if __name__ == "__main__":
    unittest.main()
