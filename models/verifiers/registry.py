"""One entry point for every verifier: `run_verifier(spec, response, reference)`, deterministic and versioned.

A version names the rules a verdict came from (the flag detector's convention); any change to extraction or a
rule gets a new one, and the gateway echoes it with each verdict.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

import jsonschema

from genrm_wire.verifying import Extraction, VerifierName
from models.verifiers.code import verify_code
from models.verifiers.matching import (
    verify_choice,
    verify_exact,
    verify_json_schema,
    verify_normalized,
    verify_regex,
)
from models.verifiers.math_answers import verify_math
from models.verifiers.results import Verification

RULES_VERSION = 1


@functools.cache
def verifier_version(name: VerifierName) -> str:
    """`genrm-math/1 (math-verify 0.9.0)`: the rules' version, and the library's where one decides."""
    libraries = {"math": "math-verify", "json_schema": "jsonschema"}
    base = f"genrm-{name}/{RULES_VERSION}"
    return f"{base} ({libraries[name]} {version(libraries[name])})" if name in libraries else base


@dataclass(frozen=True)
class VerifierSpec:
    """A request's verifier: which, where the answer is, its per-item time limit, and (json_schema) the schema
    every item shares, else None (each item's reference is its schema)."""

    name: VerifierName
    extraction: Extraction = "auto"
    timeout_s: float = 2.0
    schema: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)


def run_verifier(spec: VerifierSpec, response: str, reference: str) -> Verification:
    if spec.name == "math":
        return verify_math(response, reference, spec.extraction)
    if spec.name == "exact":
        return verify_exact(response, reference, spec.extraction)
    if spec.name == "normalized":
        return verify_normalized(response, reference, spec.extraction)
    if spec.name == "choice":
        return verify_choice(response, reference, spec.extraction)
    if spec.name == "regex":
        return verify_regex(response, reference, spec.extraction)
    if spec.name == "json_schema":
        schema = dict(spec.schema) if spec.schema is not None else json.loads(reference)
        return verify_json_schema(response, schema)
    return verify_code(response, reference, spec.timeout_s)


def schema_problem(schema: object) -> str | None:
    """Why `schema` is not a JSON Schema, or None."""
    if not isinstance(schema, dict):
        return "a JSON Schema is a JSON object"
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as error:
        return f"not a valid JSON Schema: {error.message[:200]}"
    return None


def reference_problem(spec: VerifierSpec, reference: str | None) -> str | None:
    """Why `reference` cannot be checked against by `spec`, or None: what the gateway answers 422 with."""
    if spec.name == "json_schema" and spec.schema is not None:
        return None
    if reference is None or not reference.strip():
        return (f"verifier {spec.name!r} checks each response against its reference, and this item has none; give "
                "every item one (an answer, a pattern, a schema or tests: genrm_wire.verifying)")
    if spec.name == "regex":
        try:
            re.compile(reference)
        except re.error as error:
            return f"the reference is the regex the answer must match, and it does not compile: {error}"
    if spec.name == "json_schema":
        try:
            return schema_problem(json.loads(reference))
        except json.JSONDecodeError as error:
            return f"the reference is the item's JSON Schema, as JSON text, and it is not JSON: {error}"
    return None
