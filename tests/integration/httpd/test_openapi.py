"""GET /openapi.json: an OpenAPI 3.1 document generated from the configured datasets. Checked for
the shape OpenAPI 3.1 gives it (no OpenAPI validator is packaged in Debian 12): it parses, names
every route and dataset, each operation has its responses, each $ref resolves, each schema is a
valid JSON Schema 2020-12 (OpenAPI 3.1's dialect), path parameters are declared, and the bearer
scheme is there exactly when API keys are on. The row schema with typed columns is checked on
openapi_dump's output, which renders a dataset of every column type (no configured dataset has
them all); the servers' own documents type the configured datasets' columns. The harness checks
every answer of this suite against the document as well."""
import json
import os
import re
import subprocess
import sys
import unittest

import harness
import jsonschema

FIXED = ["/", "/healthz", "/readyz", "/test", "/metrics", "/openapi.json"]
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
DUMP = os.environ.get("PAPI_OPENAPI_DUMP", "")


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


class Shape:
    """Checks shared by every document."""

    def check_document(self, doc, datasets, keys):
        self.assertEqual(doc["openapi"], "3.1.0")
        self.assertEqual(doc["info"]["title"], "papi")
        self.assertRegex(doc["info"]["version"], r"^\d+\.\d+\.\d+")
        want = FIXED + [p for d in datasets for p in ("/%s/{ids}" % d, "/" + d)]
        self.assertEqual(sorted(doc["paths"]), sorted(want))
        for ref in refs(doc):
            self.assertTrue(ref.startswith("#/"), ref)
            harness._pointer(doc, ref)  # KeyError when it does not resolve
        for name, schema in doc["components"]["schemas"].items():
            self.assertRegex(name, r"^[a-zA-Z0-9._-]+$")
            jsonschema.Draft202012Validator.check_schema(schema)
        op_ids = []
        api = harness.ApiSchema(doc)
        for path, item in doc["paths"].items():
            params = set(re.findall(r"\{([^}]+)\}", path))
            declared = {api.deref(p)["name"] for p in item.get("parameters", [])
                        if api.deref(p)["in"] == "path"}
            self.assertEqual(params, declared, path)
            for method, op in item.items():
                if method == "parameters":
                    continue
                self.assertIn(method, METHODS, path)
                self.assertTrue(op["responses"], (path, method))
                for code, resp in op["responses"].items():
                    self.assertRegex(code, r"^([1-5]\d\d|default)$")
                    self.assertIsInstance(api.deref(resp)["description"], str)
                    for media in api.deref(resp).get("content", {}).values():
                        jsonschema.Draft202012Validator.check_schema(media["schema"])
                if "operationId" in op:
                    op_ids.append(op["operationId"])
                if keys:
                    open_op = method == "options" or path in ("/healthz", "/readyz", "/test")
                    self.assertEqual(op.get("security") == [], open_op, (path, method))
                else:
                    self.assertNotIn("security", op)
        self.assertEqual(len(op_ids), len(set(op_ids)))
        for d in datasets:
            for schema in ("%s.Row" % d, "%s.Rows" % d):
                self.assertIn(schema, doc["components"]["schemas"])
            post = doc["paths"]["/" + d]["post"]
            self.assertIn("application/json", post["requestBody"]["content"])
            codes = set(post["responses"])
            self.assertTrue({"200", "400", "412", "413", "415", "502", "503", "504"} <= codes, codes)
            get = doc["paths"]["/%s/{ids}" % d]["get"]
            self.assertTrue({"200", "304", "400", "414", "502", "503", "504"} <= set(get["responses"]))
            # select is left out until the library's column selection serves it
            names = [api.deref(p)["name"] for p in doc["paths"]["/%s/{ids}" % d]["parameters"]]
            self.assertNotIn("select", names)
        if keys:
            self.assertEqual(doc["security"], [{"bearer": []}])
            self.assertEqual(doc["components"]["securitySchemes"]["bearer"],
                             {"type": "http", "scheme": "bearer",
                              "description": doc["components"]["securitySchemes"]["bearer"]["description"]})
        else:
            self.assertNotIn("security", doc)
            self.assertNotIn("securitySchemes", doc["components"])
        return api


class Served(unittest.TestCase, Shape):
    def test_demo_server(self):
        srv = harness.Server(source="sqlite:" + harness.demo_db())
        try:
            st, h, body = srv.request("GET", "/openapi.json")
            self.assertEqual(st, 200)
            self.assertEqual(h["content-type"], "application/json; charset=utf-8")
            api = self.check_document(json.loads(body), ["customer"], keys=False)
            schema = {"$ref": "#/components/schemas/customer.Rows"}
            _, _, rows = srv.get_json("/customer/1885,2")
            api.validate(rows, schema, "GET", "/customer/1885,2", 200, "body")
            self.assertEqual(srv.request("HEAD", "/openapi.json")[0], 200)
        finally:
            srv.stop()

    def test_every_dataset_and_api_keys(self):
        datasets = harness.datasets_file([
            {"name": "product", "table": "API.DATA.PRODUCTS", "key": "P_ID", "key_type": "number",
             "columns": [{"name": "P_ID", "type": "number"}, {"name": "P_NAME", "type": "text"}]},
            {"name": "store-2", "table": "S", "key": "S_ID", "key_type": "text",
             "columns": [{"name": "S_ID", "type": "text"}]}])
        srv = harness.Server(binary=harness.FAULT_HTTPD, args=["--datasets", datasets],
                             env={"PAPI_API_KEYS": "doc-key"})
        try:
            st, _, body = srv.request("GET", "/openapi.json")
            self.assertEqual((st, json.loads(body)["code"]), (401, "EUNAUTHORIZED"))
            st, _, body = srv.request("GET", "/openapi.json", headers={"Authorization": "Bearer doc-key"})
            self.assertEqual(st, 200)
            self.check_document(json.loads(body), ["customer", "product", "store-2"], keys=True)
        finally:
            srv.stop()


class TypedRows(unittest.TestCase, Shape):
    """The row schema from known columns: openapi_dump renders a dataset of every type."""

    @classmethod
    def setUpClass(cls):
        cls.doc = json.loads(subprocess.run([DUMP], check=True, capture_output=True, timeout=30).stdout)

    def test_shape(self):
        self.check_document(self.doc, ["every", "customer"], keys=False)

    def test_row_schema(self):
        api = harness.ApiSchema(self.doc)
        rows = {"$ref": "#/components/schemas/every.Rows"}
        good = {"K": 12345678901234567890123456789012345678, "D": 12.5, "R": "NaN", "T": "x",
                "B": True, "DA": "2024-02-29", "TI": "12:00:00", "TS": "2024-02-29T12:00:00Z",
                "V": {"any": [1, None]}, "BI": "00ff"}
        api.validate([good], rows, "GET", "/every/1", 200, "body")
        nulls = dict((k, None) for k in good)
        nulls["K"] = 1
        api.validate([nulls], rows, "GET", "/every/1", 200, "body")
        for change in ({"K": None}, {"K": "1"}, {"D": "12.5"}, {"T": 1}, {"B": "true"}, {"BI": "xyz"},
                       {"EXTRA": 1}):
            bad = dict(good, **change)
            with self.assertRaises(AssertionError, msg=change):
                api.validate([bad], rows, "GET", "/every/1", 200, "body")
        # ?select= answers some columns: a row with fewer members is valid, an empty one is not
        some = {"T": "x", "K": 1}
        api.validate([some], rows, "GET", "/every/1", 200, "body")
        with self.assertRaises(AssertionError):
            api.validate([{}], rows, "GET", "/every/1", 200, "body")


if __name__ == "__main__":
    if not DUMP:
        print("SKIP: PAPI_OPENAPI_DUMP is not set (run through meson test)")
        sys.exit(77)
    unittest.main(argv=sys.argv[:1] + sys.argv[1:], verbosity=2)
