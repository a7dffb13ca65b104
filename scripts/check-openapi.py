#!/usr/bin/env python3
"""Fails unless docs/api/openapi.json is a valid OpenAPI 3.1 document.

Uses openapi-spec-validator's 3.1 validator (the JSON Schema of OpenAPI 3.1 plus its own checks:
resolvable `$ref`s, unique operation ids, every path parameter declared). Its command line
(`python -m openapi_spec_validator`, 0.9.0) prints validation errors but exits 0, so it cannot
fail a make target; this script calls the library instead. `--self-test` plants one problem of each
kind in a copy of the document and fails unless every one is refused.

    .venv/bin/python scripts/check-openapi.py [docs/api/openapi.json]
    .venv/bin/python scripts/check-openapi.py --self-test [docs/api/openapi.json]

Exit status: 0 valid, 1 invalid, 2 usage or read error.
"""

from __future__ import annotations

import copy
import json
import sys
from typing import Any, Callable

from openapi_spec_validator import OpenAPIV31SpecValidator, validate

DEFAULT = "docs/api/openapi.json"


def problem(spec: dict[str, Any]) -> str | None:
    """Why `spec` is not a valid OpenAPI 3.1 document, or None."""
    if not str(spec.get("openapi", "")).startswith("3.1."):
        return f"openapi is {spec.get('openapi')!r}, not 3.1.x"
    try:
        validate(spec, cls=OpenAPIV31SpecValidator)
    except Exception as e:  # the validator's own errors say what is wrong
        # The first line names the problem; some errors then print the whole document.
        return f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
    return None


def first_operation(spec: dict[str, Any]) -> dict[str, Any]:
    path = sorted(spec["paths"])[0]
    return next(iter(spec["paths"][path].values()))


PLANTED: dict[str, Callable[[dict[str, Any]], None]] = {
    "no info": lambda s: s.pop("info"),
    "version 3.0": lambda s: s.update(openapi="3.0.3"),
    "unknown schema type": lambda s: s["components"]["schemas"].update(Bad={"type": "strnig"}),
    "dangling $ref": lambda s: first_operation(s)["responses"].update(
        {"418": {"$ref": "#/components/responses/Missing"}}
    ),
    "duplicate operationId": lambda s: [
        op.update(operationId="same") for item in s["paths"].values() for op in item.values()
    ],
    "undeclared path parameter": lambda s: s["paths"].update(
        {"/v1/x/{undeclared}": {"get": {"responses": {"200": {"description": "x"}}}}}
    ),
}


def self_test(spec: dict[str, Any]) -> int:
    if (why := problem(spec)) is not None:
        print(f"check-openapi self-test: the document itself is refused: {why}", file=sys.stderr)
        return 1
    missed = []
    for name, plant in PLANTED.items():
        broken = copy.deepcopy(spec)
        plant(broken)
        if problem(broken) is None:
            missed.append(name)
    if missed:
        print(f"check-openapi self-test FAILED: not refused: {missed}", file=sys.stderr)
        return 1
    print(f"check-openapi self-test: {len(PLANTED)} planted problems refused, the document passes")
    return 0


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--self-test"]
    if len(args) > 1:
        print(__doc__, file=sys.stderr)
        return 2
    path = args[0] if args else DEFAULT
    try:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
    except (OSError, ValueError) as e:
        print(f"check-openapi: cannot read {path}: {e}", file=sys.stderr)
        return 2
    if "--self-test" in argv:
        return self_test(spec)
    if (why := problem(spec)) is not None:
        print(f"check-openapi: {path} is not valid OpenAPI 3.1: {why}", file=sys.stderr)
        return 1
    operations = sum(len(item) for item in spec["paths"].values())
    print(f"check-openapi: {path} is valid OpenAPI {spec['openapi']}; {operations} operations")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
