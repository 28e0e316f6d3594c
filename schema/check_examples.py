#!/usr/bin/env python3
"""Check schema/openrpc.json beyond the OpenRPC meta-schema.

usage: python3 schema/check_examples.py [PATH] [--binary PETITION_RPC]
       (PATH defaults to openrpc.json next to this script)

- every schema in the document is a valid draft-07 JSON Schema and every $ref resolves;
- every object schema says `additionalProperties: false` (params never accept extra fields);
- every method is by-name, has at least one example, and lists errors that exist in components;
- every example's params are declared, include the required ones and validate (one by one, as a
  whole params object, and against `x-paramsSchema` when the method has one); every example
  result validates against the method's result schema;
- the error components carry the contract's codes, and the InvalidParams data matches its schema;
- a few params the contract forbids are rejected, and a few it allows are accepted;
- with --binary: every example is played, in document order, through `PETITION_RPC --db :memory:`
  (a fresh empty store); each answer must fit the result schema and equal the example's result,
  except values the server makes up (signatureId, createdAt, closedAt, signedAt), which are compared
  by type and must stand for the same value wherever the example repeats them (also confirmToken,
  invalidationId, goalReachedAt, anonymisedAt and the `at` of events and invalidations). An example
  param equal to an example's signatureId, confirmToken or invalidationId is sent as the value the
  server answered there, so a confirm example can pass on the token a sign example received.
  rpc.discover must answer this very document.

Prints one line per problem and exits 1, or prints `ok` and exits 0.
Needs python3 and jsonschema >= 4.18 (which brings `referencing`); nothing else.
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys

from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import SchemaError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

BASE = "urn:petition-rpc:openrpc"

# The contract's error codes (CONTRACT.md); the document must name each of them.
CONTRACT_ERRORS = {
    "ParseError": -32700,
    "InvalidRequest": -32600,
    "MethodNotFound": -32601,
    "InvalidParams": -32602,
    "InternalError": -32603,
    "StoreUnavailable": -32000,
    "RequestCancelled": -32800,
    "PetitionNotFound": 1001,
    "PetitionAlreadyExists": 1002,
    "PetitionClosed": 1003,
    "ExportPathUnavailable": 1004,
    "ConfirmationTokenUnknown": 1005,
    "PetitionStillOpen": 1006,
    "PetitionAnonymised": 1007,
    "ImportFileUnreadable": 1008,
}

CONTRACT_METHODS = [
    "petition.create", "petition.get", "petition.list", "petition.close",
    "sign", "count", "export", "unsubscribe", "rpc.discover",
    "confirm", "consent.history", "signature.invalidate", "invalidation.list", "signature.revalidate",
    "person.erase", "petition.anonymise",
    "import",
]

# Params the contract forbids: each must fail the method's params schemas.
_SIGNER = {"email": "alex@example.org", "firstName": "Alex", "lastName": "Example", "postalCode": "20500"}
REJECTED = [
    ("petition.create", {"id": "End-The-Program", "title": "t", "target": "t"}),
    ("petition.create", {"id": "-leading-hyphen", "title": "t", "target": "t"}),
    ("petition.create", {"id": "a" * 65, "title": "t", "target": "t"}),
    ("petition.create", {"id": "ok", "title": "", "target": "t"}),
    ("petition.create", {"id": "ok", "title": "x" * 201, "target": "t"}),
    ("petition.create", {"id": "ok", "title": "bell\u0007", "target": "t"}),
    ("petition.create", {"id": "ok", "title": "t", "target": "t", "body": "x" * 20001}),
    ("petition.create", {"id": "ok", "title": "t", "target": "t", "extra": 1}),
    ("petition.create", {"id": "ok", "title": "t"}),
    ("petition.get", {}),
    ("petition.list", {"status": "draft"}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, email="no-at-sign.example.org")}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, email="alex@localhost")}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, email="a da@example.org")}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, firstName="   ")}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, firstName="x" * 101)}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, lastName="see https://example.org")}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, lastName="www.example.org")}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, postalCode="2050")}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, country="GB", postalCode="SW1A 1AA!")}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, country="USA")}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, phone="+1234567")}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, country="GB", postalCode="SW1A 1AA", phone="2025550123")}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, nickname="Alex")}),
    ("sign", {"petition": "p", "signer": {k: v for k, v in _SIGNER.items() if k != "email"}}),
    ("sign", {"petition": "p", "signer": _SIGNER, "optIn": {"email": "yes"}}),
    ("sign", {"petition": "p", "signer": _SIGNER, "optIn": {"post": True}}),
    ("sign", {"petition": "p", "signer": _SIGNER, "comment": "x" * 2001}),
    ("sign", {"petition": "p", "signer": _SIGNER, "source": ""}),
    ("sign", {"petition": "p", "signer": _SIGNER, "source": "x" * 65}),
    ("count", {"petition": "p", "groupBy": "week"}),
    ("count", {"petition": "p", "since": "2026-11-29"}),
    ("export", {"petition": "p", "audience": "everyone", "format": "csv"}),
    ("export", {"petition": "p", "audience": "delivery", "format": "xlsx"}),
    ("export", {"petition": "p", "audience": "delivery", "format": "csv", "limit": 0}),
    ("export", {"petition": "p", "audience": "delivery", "format": "csv", "limit": 10001}),
    ("export", {"petition": "p", "audience": "delivery", "format": "csv", "progressToken": 1.5}),
    ("export", {"petition": "p", "audience": "delivery", "format": "csv", "overwrite": "yes"}),
    ("unsubscribe", {}),
    ("unsubscribe", {"email": "alex@example.org", "phone": "+12025550123"}),
    ("unsubscribe", {"email": "alex@example.org", "channels": ["post"]}),
    ("unsubscribe", {"phone": "+12025550123", "channels": []}),
    ("petition.create", {"id": "ok", "title": "   ", "target": "t"}),
    ("petition.create", {"id": "ok", "title": "t", "target": "t", "goal": 0}),
    ("petition.create", {"id": "ok", "title": "t", "target": "t", "goal": 1000000001}),
    ("sign", {"petition": "p", "signer": _SIGNER, "source": "  "}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, firstName="A\u0085B")}),
    ("export", {"petition": "p", "audience": "delivery", "format": "csv", "path": "out.csv", "limit": 10}),
    ("export", {"petition": "p", "audience": "delivery", "format": "csv", "path": "out.csv", "cursor": "c"}),
    ("rpc.discover", {"anything": True}),
    ("petition.create", {"id": "ok", "title": "t", "target": "t", "confirmation": "sms"}),
    ("sign", {"petition": "p", "signer": _SIGNER, "optIn": {"email": True, "notice": ""}}),
    ("sign", {"petition": "p", "signer": _SIGNER, "optIn": {"email": True, "notice": "x" * 201}}),
    ("confirm", {}),
    ("confirm", {"token": ""}),
    ("confirm", {"token": "has spaces"}),
    ("consent.history", {}),
    ("consent.history", {"email": "alex@example.org", "phone": "+12025550123"}),
    ("person.erase", {}),
    ("person.erase", {"email": "alex@example.org", "phone": "+12025550123"}),
    ("person.erase", {"email": "alex@example.org", "channels": ["email"]}),
    ("signature.invalidate", {"petition": "p", "reason": "r", "match": {}}),
    ("signature.invalidate", {"petition": "p", "reason": "r", "match": {"since": "2026-11-29T00:00:00Z"}}),
    ("signature.invalidate", {"petition": "p", "reason": "", "match": {"source": "s"}}),
    ("signature.invalidate", {"petition": "p", "reason": "x" * 201, "match": {"source": "s"}}),
    ("signature.invalidate", {"petition": "p", "match": {"source": "s"}}),
    ("signature.invalidate", {"petition": "p", "reason": "r", "match": {"signatureIds": []}}),
    ("signature.invalidate", {"petition": "p", "reason": "r", "match": {"signatureIds": ["s"] * 10001}}),
    ("signature.invalidate", {"petition": "p", "reason": "r", "match": {"source": "s", "name": "x"}}),
    ("signature.invalidate", {"petition": "p", "reason": "r", "match": {"postalCode": "12345!"}}),
    ("signature.invalidate", {"petition": "p", "reason": "r", "match": {"source": "s"}, "dryRun": "yes"}),
    ("signature.revalidate", {"petition": "p"}),
    ("signature.revalidate", {"petition": "p", "invalidationId": "inv_1", "signatureIds": ["sig_1"]}),
    ("invalidation.list", {}),
    ("petition.anonymise", {}),
]

# Params the contract allows: each must pass the method's params schemas.
ACCEPTED = [
    ("petition.create", {"id": "a", "title": "T", "target": "T"}),
    ("petition.create", {"id": "0-" + "a" * 62, "title": "Ünïcödé ✓", "target": "x" * 200,
                         "body": "Dear Sir,\r\n\tline two\n", "goal": None}),
    ("petition.list", {}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, email="  José.Núñez+tag@example.org ", firstName=" José ",
                                              postalCode="20500-0001", country="us", phone="202.555.0123")}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, country="GB", postalCode="SW1A 1AA", phone="+44 20 7946 0958"),
              "comment": "", "optIn": {"email": False, "phone": True, "sms": True}, "source": "newsletter"}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, country="de", postalCode="10115"), "comment": "Zeile 1\nZeile 2"}),
    ("count", {"petition": "p", "groupBy": "day", "since": "2026-11-29T08:00:00+01:00", "until": "2026-11-30T00:00:00.5z"}),
    ("export", {"petition": "p", "audience": "contacts", "format": "ndjson", "cursor": None, "limit": 10000,
                "progressToken": "tok-1"}),
    ("export", {"petition": "p", "audience": "delivery", "format": "csv", "path": "out/delivery.csv", "overwrite": True,
                "progressToken": 7, "since": "2026-11-29T07:00:00.123456-05:00"}),
    ("sign", {"petition": "p", "signer": dict(_SIGNER, postalCode=" 20500 ", phone="1 202 555 0123 "),
              "source": " flyer "}),
    ("petition.create", {"id": "ok", "title": "\tPadded title\n", "target": " t ", "goal": 1000000000}),
    ("unsubscribe", {"phone": "+12025550123", "channels": ["sms", "sms"]}),
    ("unsubscribe", {"phone": "(202) 555-0123"}),
    ("unsubscribe", {"phone": "+44 20 7946 0958", "channels": ["phone"]}),
    ("unsubscribe", {"email": "alex@example.org", "channels": ["email", "phone", "sms"]}),
    ("rpc.discover", {}),
    ("petition.create", {"id": "ok", "title": "t", "target": "t", "confirmation": "email"}),
    ("sign", {"petition": "p", "signer": _SIGNER, "optIn": {"email": True, "notice": " privacy-v3 "}}),
    ("confirm", {"token": "3q2-7wAAAAA_abcdefghijklmnopqrstuv"}),
    ("consent.history", {"phone": "(202) 555-0123"}),
    ("person.erase", {"email": "Alex+news@example.org"}),
    ("signature.invalidate", {"petition": "p", "reason": "bot", "match": {"email": "a@example.org", "phone": "+12025550123",
                              "postalCode": " sw1a 1aa ", "source": "ad", "since": "2026-11-29T00:00:00Z",
                              "until": "2026-11-30T00:00:00+01:00"}, "dryRun": False}),
    ("signature.invalidate", {"petition": "p", "reason": "bot", "match": {"signatureIds": ["sig_1"] * 10000}}),
    ("signature.revalidate", {"petition": "p", "invalidationId": "inv_1"}),
    ("signature.revalidate", {"petition": "p", "signatureIds": ["sig_1", "sig_2"]}),
]


class Checker:
    def __init__(self, doc):
        self.doc = doc
        self.problems = []
        resource = Resource.from_contents(doc, default_specification=DRAFT7)
        self.registry = Registry().with_resource(BASE, resource)

    def problem(self, where, message):
        self.problems.append(f"{where}: {message}")

    def validator(self, pointer):
        """A validator for the schema at `pointer` in the document, so `#/components/...` refs resolve."""
        return Draft7Validator({"$ref": BASE + "#" + pointer}, registry=self.registry, format_checker=FormatChecker())

    def errors(self, pointer, instance):
        return self.run_validator(self.validator(pointer), instance)

    @staticmethod
    def run_validator(validator, instance):
        try:
            found = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        except Exception as error:  # an unresolvable $ref or a bad regex, reported by the schema checks
            return [f"cannot validate: {type(error).__name__}: {str(error)[:200]}"]
        return ["/" + "/".join(map(str, e.absolute_path)) + ": " + e.message[:200] for e in found]

    def validates(self, where, pointer, instance):
        for message in self.errors(pointer, instance):
            self.problem(where, message)

    # --- schemas -------------------------------------------------------------------------------
    def schema_pointers(self):
        for name in self.doc.get("components", {}).get("schemas", {}):
            yield f"/components/schemas/{name}"
        for i, method in enumerate(self.doc.get("methods", [])):
            for j, _ in enumerate(method.get("params", [])):
                yield f"/methods/{i}/params/{j}/schema"
            if "result" in method:
                yield f"/methods/{i}/result/schema"
            if "x-paramsSchema" in method:
                yield f"/methods/{i}/x-paramsSchema"

    def at(self, pointer):
        node = self.doc
        for part in pointer[1:].split("/") if pointer else []:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def check_schemas(self):
        for pointer in self.schema_pointers():
            schema = self.at(pointer)
            try:
                Draft7Validator.check_schema(schema)
            except SchemaError as error:
                self.problem(pointer, f"not a valid draft-07 schema: {error.message[:200]}")
                continue
            self.walk(pointer, schema)

    def walk(self, pointer, schema):
        """Every $ref resolves; every object schema closes its properties."""
        if isinstance(schema, dict):
            if "$ref" in schema:
                target = schema["$ref"]
                try:
                    if not target.startswith("#/"):
                        raise LookupError
                    self.at(target[1:])
                except (LookupError, ValueError, TypeError):
                    self.problem(pointer, f"$ref {target} does not resolve to a place in this document")
            if "pattern" in schema:
                try:
                    re.compile(schema["pattern"])
                except re.error as error:
                    self.problem(pointer, f"pattern {schema['pattern']!r} is not a valid regular expression: {error}")
            kinds = schema.get("type")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            if ("object" in kinds or "properties" in schema) and schema.get("additionalProperties") is not False:
                self.problem(pointer, "an object schema without additionalProperties: false")
            for key, value in schema.items():
                if key in ("properties", "definitions", "patternProperties") and isinstance(value, dict):
                    for name, sub in value.items():
                        self.walk(f"{pointer}/{key}/{name}", sub)
                elif key in ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames"):
                    self.walk(f"{pointer}/{key}", value)
                elif key in ("oneOf", "anyOf", "allOf") and isinstance(value, list):
                    for i, sub in enumerate(value):
                        self.walk(f"{pointer}/{key}/{i}", sub)
        elif isinstance(schema, list):
            for i, sub in enumerate(schema):
                self.walk(f"{pointer}/{i}", sub)

    # --- methods and examples ------------------------------------------------------------------
    def params_object_schema(self, index):
        """The whole params object as one schema: declared names, required ones, nothing else."""
        method = self.doc["methods"][index]
        return {
            "type": "object",
            "additionalProperties": False,
            "required": [p["name"] for p in method["params"] if p.get("required")],
            "properties": {p["name"]: {"$ref": BASE + f"#/methods/{index}/params/{j}/schema"}
                           for j, p in enumerate(method["params"])},
        }

    def params_errors(self, index, params):
        method = self.doc["methods"][index]
        validator = Draft7Validator(self.params_object_schema(index), registry=self.registry, format_checker=FormatChecker())
        messages = self.run_validator(validator, params)
        if "x-paramsSchema" in method:
            messages += self.errors(f"/methods/{index}/x-paramsSchema", params)
        return messages

    def check_methods(self):
        methods = self.doc.get("methods", [])
        names = [m.get("name") for m in methods]
        for name in CONTRACT_METHODS:
            if name not in names:
                self.problem("/methods", f"the contract's method {name} is missing")
        for name in names:
            if name not in CONTRACT_METHODS:
                self.problem("/methods", f"{name} is not a method of the contract")
        error_components = self.doc.get("components", {}).get("errors", {})
        for i, method in enumerate(methods):
            where = f"/methods/{i} ({method.get('name')})"
            if method.get("paramStructure") != "by-name":
                self.problem(where, "paramStructure is not by-name")
            param_names = [p.get("name") for p in method.get("params", [])]
            if len(set(param_names)) != len(param_names):
                self.problem(where, "duplicate param names")
            if "result" not in method:
                self.problem(where, "no result")
            for error in method.get("errors", []):
                target = error.get("$ref", "")
                if not target.startswith("#/components/errors/") or target.rsplit("/", 1)[1] not in error_components:
                    self.problem(where, f"error {error} is not a reference to components.errors")
            if not method.get("examples"):
                self.problem(where, "no examples")
            for k, example in enumerate(method.get("examples", [])):
                self.check_example(i, f"{where}/examples/{k} ({example.get('name')})", example)

    def check_example(self, index, where, example):
        method = self.doc["methods"][index]
        declared = {p["name"]: j for j, p in enumerate(method["params"])}
        params = {}
        for entry in example.get("params", []):
            name = entry.get("name")
            if name not in declared:
                self.problem(where, f"param {name} is not declared by the method")
                continue
            params[name] = entry.get("value")
            self.validates(f"{where} param {name}", f"/methods/{index}/params/{declared[name]}/schema", entry.get("value"))
        for message in self.params_errors(index, params):
            self.problem(f"{where} params", message)
        if "result" not in example:
            self.problem(where, "no result")
        elif "result" in method:
            self.validates(f"{where} result", f"/methods/{index}/result/schema", example["result"].get("value"))

    # --- errors and negative cases -------------------------------------------------------------
    def check_errors(self):
        errors = self.doc.get("components", {}).get("errors", {})
        for name, code in CONTRACT_ERRORS.items():
            if name not in errors:
                self.problem("/components/errors", f"{name} ({code}) is missing")
            elif errors[name].get("code") != code:
                self.problem(f"/components/errors/{name}", f"code is {errors[name].get('code')}, the contract says {code}")
        if "InvalidParams" in errors and "data" in errors["InvalidParams"]:
            self.validates("/components/errors/InvalidParams/data", "/components/schemas/InvalidParamsData",
                           errors["InvalidParams"]["data"])

    def check_rejections(self):
        index = {m.get("name"): i for i, m in enumerate(self.doc.get("methods", []))}
        for name, params in REJECTED:
            if name in index and not self.params_errors(index[name], params):
                self.problem(f"{name} params {json.dumps(params)[:120]}", "accepted, but the contract forbids them")
        for name, params in ACCEPTED:
            for message in self.params_errors(index[name], params) if name in index else []:
                self.problem(f"{name} params {json.dumps(params)[:120]}", f"rejected, but the contract allows them: {message}")

    def run(self):
        self.check_schemas()
        self.check_methods()
        self.check_errors()
        self.check_rejections()
        return self.problems


# Values the server makes up: compared by type, and the same example value must stand for the same
# actual value everywhere (the duplicate sign returns the first signatureId; get returns create's createdAt);
# different example signatureIds must be different signatures.
GENERATED_KEYS = {"signatureId", "createdAt", "closedAt", "signedAt", "goalReachedAt", "anonymisedAt", "at",
                  "confirmToken", "invalidationId"}
# Lists whose elements are such values.
GENERATED_LISTS = {"signatureIds": "signatureId"}
# Made-up values that later examples pass back as params (a confirm's token, the ids to revalidate): an
# example param equal to one of these example values is sent as the value the server actually answered.
SUBSTITUTED_KEYS = {"signatureId", "confirmToken", "invalidationId"}


def walk_binary(doc, checker, binary):
    """Play every example, in document order, through `binary --db :memory:`; compare the answers."""
    problems = []
    stand_ins = {}

    played = {}

    def substitute(value):
        if isinstance(value, str):
            return played.get(value, value)
        if isinstance(value, list):
            return [substitute(v) for v in value]
        if isinstance(value, dict):
            return {k: substitute(v) for k, v in value.items()}
        return value

    def compare(where, expected, actual, key=None):
        if key in SUBSTITUTED_KEYS and isinstance(expected, str) and isinstance(actual, str):
            played.setdefault(expected, actual)
        if key in GENERATED_KEYS and expected is not None:
            if type(actual) is not type(expected):
                problems.append(f"{where}: expected a {type(expected).__name__}, got {actual!r}")
            elif stand_ins.setdefault((key, expected), actual) != actual:
                problems.append(f"{where}: {actual!r}, but the same example value was {stand_ins[(key, expected)]!r} before")
            elif key == "signatureId" and stand_ins.setdefault(("id of", actual), expected) != expected:
                # Two signatures never share an id (two times may share a millisecond).
                problems.append(f"{where}: the example says {expected!r}, but the server answered {actual!r}, "
                                f"which the examples call {stand_ins[('id of', actual)]!r}")
        elif isinstance(expected, dict) and isinstance(actual, dict):
            if set(expected) != set(actual):
                problems.append(f"{where}: keys {sorted(actual)}, expected {sorted(expected)}")
            for name in expected.keys() & actual.keys():
                compare(f"{where}/{name}", expected[name], actual[name], name)
        elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
            for i, (e, a) in enumerate(zip(expected, actual)):
                compare(f"{where}/{i}", e, a, GENERATED_LISTS.get(key, key))
        elif expected != actual or type(expected) is not type(actual):
            problems.append(f"{where}: {json.dumps(actual, ensure_ascii=False)[:200]}, "
                            f"expected {json.dumps(expected, ensure_ascii=False)[:200]}")

    server = subprocess.Popen([binary, "--db", ":memory:"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        request_id = 0
        for index, method in enumerate(doc["methods"]):
            for example in method.get("examples", []):
                where = f"{method['name']} example {example.get('name')}"
                request_id += 1
                request = {"jsonrpc": "2.0", "id": request_id, "method": method["name"]}
                params = {entry["name"]: substitute(entry["value"]) for entry in example.get("params", [])}
                if params:
                    request["params"] = params
                server.stdin.write(json.dumps(request, ensure_ascii=False).encode("utf-8") + b"\n")
                server.stdin.flush()
                line = server.stdout.readline()
                if not line:
                    problems.append(f"{where}: the server closed its output")
                    return problems
                response = json.loads(line)
                if response.get("id") != request_id or "result" not in response:
                    problems.append(f"{where}: {json.dumps(response, ensure_ascii=False)[:300]}")
                    continue
                actual = response["result"]
                for message in checker.errors(f"/methods/{index}/result/schema", actual):
                    problems.append(f"{where}: the answer does not fit the result schema: {message}")
                if method["name"] == "rpc.discover":
                    if actual != doc:
                        problems.append(f"{where}: the answer is not this document (re-embed the schema?)")
                elif "result" in example:
                    compare(where, example["result"]["value"], actual)
    finally:
        server.stdin.close()
        code = server.wait(30)
    if code != 0:
        problems.append(f"the server exited with {code}")
    return problems


def main():
    parser = argparse.ArgumentParser(description="Check schema/openrpc.json beyond the OpenRPC meta-schema.")
    parser.add_argument("path", nargs="?", default=str(pathlib.Path(__file__).resolve().parent / "openrpc.json"))
    parser.add_argument("--binary", help="also play the examples, in order, through this petition-rpc on an empty store")
    args = parser.parse_args()
    doc = json.loads(pathlib.Path(args.path).read_text(encoding="utf-8"))
    checker = Checker(doc)
    problems = checker.run()
    if args.binary and not problems:
        problems = walk_binary(doc, checker, args.binary)
    for line in problems:
        print(line)
    if problems:
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
