"""deploy/: the Dockerfile's build stage run as a script (no Docker engine here), the installed
server started as the runtime stage would start it, and the SPCS spec and SQL checked to agree.

  test_deploy.py Spec    the static checks (fast)
  test_deploy.py Build   the build steps into a temporary prefix (slow: a release build)
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import unittest
import urllib.request

import harness

ROOT = os.environ.get("PAPI_SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DOCKERFILE = os.path.join(ROOT, "deploy", "Dockerfile")
SPEC = os.path.join(ROOT, "deploy", "spcs", "service.yaml")
SQL = os.path.join(ROOT, "deploy", "spcs", "setup.sql")


def read(path):
    with open(path) as f:
        return f.read()


def dockerfile_stages():
    """[(name, base, [(instruction, argument)])], continuation lines joined, comments dropped."""
    text = read(DOCKERFILE)
    text = re.sub(r"\\\n", " ", text)
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instr, _, arg = line.partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", arg.strip(), re.I)
            stages.append((m.group(2) or "", m.group(1), []))
        else:
            stages[-1][2].append((instr, re.sub(r"\s+", " ", arg.strip())))
    return stages


def parse_env(arg):
    return dict(tok.split("=", 1) for tok in shlex.split(arg))


def stage_args(instructions):
    """{name: default} of a stage's ARG instructions (None when an ARG has no default)."""
    args = {}
    for instr, arg in instructions:
        if instr == "ARG":
            name, _, default = arg.partition("=")
            args[name] = default if _ else None
    return args


def expand(text, args):
    """text with $NAME and ${NAME} replaced by the build arguments' values, as Docker does."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], text)


def load_yaml(path):
    try:
        import yaml
    except ImportError:
        yaml = None
    text = read(path)
    if yaml:
        return yaml.safe_load(text)
    raise unittest.SkipTest("python3-yaml is not installed")


def server_env_vars():
    """Environment variables papi-httpd knows, from its --help (library and server options)."""
    out = subprocess.run([harness.HTTPD, "--help"], capture_output=True, text=True, timeout=20).stdout
    return set(re.findall(r"\(([A-Z][A-Z0-9_]+)[,)]", out))


class Spec(unittest.TestCase):
    def test_dockerfile_shape(self):
        stages = dockerfile_stages()
        self.assertEqual(len(stages), 2, "multi-stage: build and runtime")
        for _, base, _ in stages:
            self.assertRegex(base, r"^debian:bookworm")
        build, runtime = stages[0][2], stages[1][2]
        self.assertTrue(any(i == "RUN" and "deploy/build.sh" in a for i, a in build))
        self.assertTrue(any(i == "COPY" and a.startswith("--from=" + stages[0][0]) for i, a in runtime))
        instrs = dict((i, a) for i, a in runtime)
        # the user is a build argument (default papi, uid 10001) used everywhere the user is named
        args = stage_args(runtime)
        self.assertEqual(args.get("PAPI_USER"), "papi")
        self.assertRegex(args.get("PAPI_UID") or "", r"^[1-9][0-9]*$")
        self.assertIn(instrs["USER"], ("${PAPI_USER}", "$PAPI_USER"))
        self.assertEqual(expand(instrs["USER"], args), "papi")
        for other in ({"PAPI_USER": "svc", "PAPI_UID": "20001"}, args):
            useradd = expand(next(a for i, a in runtime if i == "RUN" and "useradd" in a), other)
            self.assertRegex(useradd, r"useradd .*--uid \"?%s\"? " % other["PAPI_UID"])
            self.assertRegex(useradd, r"\"?%s\"?$" % other["PAPI_USER"])
            chown = [expand(a, other) for i, a in runtime if i == "COPY" and "--chown" in a]
            self.assertTrue(chown)
            for c in chown:
                self.assertIn("--chown=%s:%s " % (other["PAPI_USER"], other["PAPI_USER"]), c)
        self.assertEqual(instrs["EXPOSE"], "8001")
        self.assertIn("/healthz", instrs["HEALTHCHECK"])
        self.assertIn("papi-httpd", instrs["ENTRYPOINT"])
        # the runtime stage ships no compiler and no -dev package
        runtime_apt = " ".join(a for i, a in runtime if i == "RUN" and "apt-get install" in a)
        self.assertNotRegex(runtime_apt, r"-dev\b|build-essential|meson|gcc")
        self.assertIn("useradd", runtime_apt)

    def test_runtime_packages_exist_in_debian(self):
        if not shutil.which("apt-cache"):
            self.skipTest("no apt-cache")
        runtime = dockerfile_stages()[1][2]
        install = next(a for i, a in runtime if i == "RUN" and "apt-get install" in a)
        words = install.split("apt-get install", 1)[1].split("&&")[0].split()
        pkgs = [w for w in words if not w.startswith("-")]
        self.assertIn("libmicrohttpd12", pkgs)
        for p in pkgs:
            r = subprocess.run(["apt-cache", "show", p], capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, "no Debian package " + p)

    def test_spec_matches_image_and_port(self):
        spec = load_yaml(SPEC)["spec"]
        (c,) = spec["containers"]
        (ep,) = spec["endpoints"]
        self.assertEqual(ep["port"], 8001)
        self.assertIs(ep["public"], True)
        self.assertEqual(ep["protocol"], "HTTP")
        self.assertEqual(c["readinessProbe"]["port"], 8001)
        self.assertIn(c["readinessProbe"]["path"], ("/healthz", "/readyz"))
        self.assertTrue(c["env"]["PAPI_LISTEN"].endswith(":8001"))
        self.assertRegex(c["name"], r"^[a-z][a-z0-9-]{0,62}$")
        expose = dict(dockerfile_stages()[1][2])["EXPOSE"]
        self.assertEqual(str(ep["port"]), expose)
        # inside SPCS the session token's user holds only the service's owner role (and PUBLIC):
        # the lookups use that role, and naming one could only break them (issue 13 B5)
        self.assertNotIn("SNOWFLAKE_ROLE", c["env"])
        self.assertIn("SNOWFLAKE_ROLE", read(SPEC))  # the comment that says why
        known = server_env_vars()
        self.assertIn("PAPI_LISTEN", known)
        for key in c["env"]:
            self.assertIn(key, known, "service.yaml sets %s, which papi-httpd does not read" % key)

    def test_sql_agrees_with_spec(self):
        sql = read(SQL)
        spec_doc = load_yaml(SPEC)
        spec = spec_doc["spec"]
        norm = re.sub(r"\s+", " ", sql.upper())
        for stmt in ("CREATE ROLE IF NOT EXISTS DATA_API_ROLE", "CREATE WAREHOUSE IF NOT EXISTS DATA_API_WH",
                     "CREATE DATABASE IF NOT EXISTS API", "CREATE SCHEMA IF NOT EXISTS API.DATA",
                     "CREATE OR REPLACE HYBRID TABLE API.DATA.HYBRID_CUSTOMER",
                     "C_CUSTOMER_SK NUMBER(38,0) PRIMARY KEY",
                     "FROM SNOWFLAKE_SAMPLE_DATA.TPCDS_SF10TCL.CUSTOMER",
                     "CREATE IMAGE REPOSITORY IF NOT EXISTS API.PUBLIC.API",
                     "GRANT BIND SERVICE ENDPOINT ON ACCOUNT TO ROLE DATA_API_ROLE",
                     "DROP SERVICE IF EXISTS API.PUBLIC.API", "DROP COMPUTE POOL IF EXISTS API"):
            self.assertIn(stmt, norm)
        # the image path is the repository's: /<db>/<schema>/<repo>/<image>
        repo = re.search(r"CREATE IMAGE REPOSITORY IF NOT EXISTS (\w+)\.(\w+)\.(\w+)", sql, re.I).groups()
        image = spec["containers"][0]["image"]
        self.assertEqual(image.split("/")[1:4], [p.lower() for p in repo])
        # the service runs in the pool the SQL creates, with instance bounds in documented order
        pool = re.search(r"CREATE COMPUTE POOL IF NOT EXISTS (\w+)", sql, re.I).group(1)
        svc = re.search(r"CREATE SERVICE (\S+)\s+IN COMPUTE POOL (\w+)\s+FROM SPECIFICATION \$\$(.*?)\$\$(.*?);",
                        sql, re.S | re.I)
        self.assertIsNotNone(svc)
        self.assertEqual(svc.group(2).upper(), pool.upper())
        tail = re.sub(r"\s+", " ", svc.group(4).upper()).strip()
        m = re.fullmatch(r"MIN_INSTANCES = (\d+) MAX_INSTANCES = (\d+) QUERY_WAREHOUSE = (\w+)", tail)
        self.assertIsNotNone(m, tail)
        self.assertLessEqual(int(m.group(1)), int(m.group(2)))
        self.assertEqual(m.group(3), "DATA_API_WH")
        self.assertEqual(spec["containers"][0]["env"]["SNOWFLAKE_WAREHOUSE"], "DATA_API_WH")
        # the inline specification is service.yaml itself
        import yaml
        self.assertEqual(yaml.safe_load(svc.group(3)), spec_doc)
        self.assertIn("GRANT SERVICE ROLE %s!ALL_ENDPOINTS_USAGE" % svc.group(1).upper(), norm)
        # the role that creates the service, so owns it and runs its lookups, owns the table
        def role_before(pattern):
            at = re.search(pattern, sql, re.I | re.M).start()
            return re.findall(r"^USE ROLE (\w+);", sql[:at], re.I | re.M)[-1].upper()
        self.assertEqual(role_before(r"^CREATE SERVICE "), "DATA_API_ROLE")
        self.assertEqual(role_before(r"^CREATE OR REPLACE HYBRID TABLE "), "DATA_API_ROLE")


class LoadPlan(unittest.TestCase):
    def test_jmeter_plan(self):
        import xml.etree.ElementTree as ET
        root = ET.parse(os.path.join(ROOT, "bench", "jmeter", "papi.jmx")).getroot()
        groups = root.findall(".//ThreadGroup")
        self.assertEqual(len(groups), 4)  # without and with cache reuse, select, POST batches
        for timer in root.findall(".//ConstantThroughputTimer"):
            per_min = int(re.search(r",(\d+)\)", timer.find("stringProp[@name='throughput']").text).group(1))
            self.assertTrue(150 * 60 <= per_min <= 200 * 60, per_min)
        for csv in root.findall(".//CSVDataSet"):
            fname = re.search(r",([^)]+)\)", csv.find("stringProp[@name='filename']").text).group(1)
            lines = read(os.path.join(ROOT, "bench", "jmeter", fname)).split()
            ids = [int(i) for line in lines for i in line.split(",")]
            self.assertEqual(sorted(ids), list(range(1, 10001)))
            if "batches" in fname:
                self.assertEqual({len(line.split(",")) for line in lines}, {100})
        self.assertEqual(len(root.findall(".//CSVDataSet")), 4)
        paths = [s.find("stringProp[@name='HTTPSampler.path']").text
                 for s in root.findall(".//HTTPSamplerProxy")]
        self.assertIn("/customer/${CUSTOMER_ID}?select=${__P(select,C_FIRST_NAME\\,C_EMAIL_ADDRESS)}",
                      paths)
        posts = [s for s in root.findall(".//HTTPSamplerProxy")
                 if s.find("stringProp[@name='HTTPSampler.method']").text == "POST"]
        self.assertEqual(len(posts), 1)
        body = posts[0].find(".//stringProp[@name='Argument.value']").text
        self.assertEqual(body, '{"ids": [${BATCH}]}')


class Build(unittest.TestCase):
    def test_build_stage_then_runtime(self):
        stages = dockerfile_stages()
        build = stages[0][2]
        runtime = stages[1][2]
        tmp = harness.tmpdir()
        prefix = os.path.join(tmp, "usr", "local")
        demo = os.path.join(tmp, "var", "lib", "papi", "demo.db")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPI_", "SNOWFLAKE_"))}
        for instr, arg in build:
            if instr == "ENV":
                env.update(parse_env(arg))
        # the image's absolute paths, moved into the temporary root
        env.update(PREFIX=prefix, DEMO_DB=demo, BUILD_DIR=os.path.join(tmp, "build"))
        ran = 0
        for instr, arg in build:
            if instr != "RUN" or "apt-get" in arg:
                continue  # packages are this machine's (scripts/deps)
            r = subprocess.run(["sh", "-ec", arg], cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=1200)
            self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
            ran += 1
        self.assertGreaterEqual(ran, 1)
        binary = os.path.join(prefix, "bin", "papi-httpd")
        self.assertTrue(os.access(binary, os.X_OK))
        self.assertTrue(os.path.getsize(demo) > 0)
        libdirs = [os.path.dirname(p) for p in
                   subprocess.run(["find", prefix, "-name", "libpapi.so*"], capture_output=True,
                                  text=True).stdout.split()]
        self.assertTrue(libdirs, "libpapi.so was not installed")
        # runtime stage: its ENV, its ENTRYPOINT with no arguments, on a loopback port
        renv = {k: v for k, v in env.items() if k not in ("PREFIX", "DEMO_DB", "BUILD_DIR")}
        for instr, arg in runtime:
            if instr == "ENV":
                renv.update(parse_env(arg))
        renv["PAPI_LISTEN"] = "127.0.0.1:0"
        renv["LD_LIBRARY_PATH"] = ":".join(sorted(set(libdirs)))
        entry = json.loads(dict(runtime)["ENTRYPOINT"])
        self.assertEqual(entry, ["/usr/local/bin/papi-httpd"])
        srv_env = dict(renv)
        # started by hand: no --source, so the baked-in demo database path is what answers
        d = harness.tmpdir()
        err = open(os.path.join(d, "stderr.log"), "wb")
        proc = subprocess.Popen([binary], env=srv_env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            port = None
            for _ in range(500):
                m = re.search(r"port (\d+)", read(err.name))
                if m:
                    port = int(m.group(1))
                    break
                if proc.poll() is not None:
                    break
                time.sleep(0.02)
            self.assertIsNotNone(port, read(err.name))
            hc = dict(runtime)["HEALTHCHECK"]
            cmd = hc.split("CMD", 1)[1].strip().replace("127.0.0.1:8001", "127.0.0.1:%d" % port)
            if shutil.which("curl"):
                r = subprocess.run(["sh", "-c", cmd], capture_output=True, timeout=20)
                self.assertEqual(r.returncode, 0, r.stderr)
            with urllib.request.urlopen("http://127.0.0.1:%d/customer/1885" % port, timeout=10) as r:
                rows = json.loads(r.read())
            self.assertEqual(rows[0]["C_CUSTOMER_SK"], 1885)
            proc.terminate()
            self.assertEqual(proc.wait(20), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            err.close()
        shutil.rmtree(os.path.join(tmp, "build"), ignore_errors=True)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1] + sys.argv[1:], verbosity=2)
