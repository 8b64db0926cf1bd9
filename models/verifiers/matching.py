"""The string verifiers: `exact`, `normalized`, `choice`, `regex` and `json_schema`.

Each reads the response's final answer (`extraction`; for these, `auto` falls back to the whole response) and
checks it against the item's reference: the answer (`exact`, `normalized`), the right letter (`choice`), a
pattern the answer must match in full (`regex`), or a JSON Schema the answer's JSON must satisfy (`json_schema`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

import jsonschema

from models.verifiers.extraction import Extraction, alternatives, stated_answers
from models.verifiers.results import Verification

_LETTER = re.compile(r"(?<![A-Za-z])\(?([A-Z])\)?(?![A-Za-z])")
_JSON_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)
_TEXT_COMMAND = re.compile(r"\\(?:text|textbf|mathrm)\{([^{}]*)\}")


def final_answer(response: str, extraction: Extraction) -> str | None:
    stated = stated_answers(response, extraction)
    if stated:
        return stated[-1]
    return response.strip() or None if extraction == "auto" else None


def normalize(text: str) -> str:
    """Case, width and spacing folded; `$`, `\\text{}`, surrounding quotes and a final period dropped."""
    text = unicodedata.normalize("NFKC", _TEXT_COMMAND.sub(r"\1", text)).casefold()
    text = " ".join(text.replace("$", " ").split())
    return text.strip(" .\"'`")


def _decided(answer: str, passed: bool, wanted: str) -> Verification:
    if passed:
        return Verification("correct", answer, f"matches {wanted!r}", (answer,))
    return Verification("incorrect", answer, f"does not match {wanted!r}", (answer,))


def _no_answer(extraction: Extraction) -> Verification:
    return Verification("no_answer", detail=f"no final answer found by extraction {extraction!r}")


def verify_exact(response: str, reference: str, extraction: Extraction) -> Verification:
    answer = final_answer(response, extraction)
    if answer is None:
        return _no_answer(extraction)
    return _decided(answer, answer.strip() == reference.strip(), reference.strip())


def verify_normalized(response: str, reference: str, extraction: Extraction) -> Verification:
    answer = final_answer(response, extraction)
    if answer is None:
        return _no_answer(extraction)
    options = {normalize(option) for option in alternatives(answer)}
    if len(options) > 1:
        return Verification("ambiguous", answer, "several alternatives offered", tuple(sorted(options)))
    return _decided(answer, normalize(answer) == normalize(reference), normalize(reference))


def choice_letters(answer: str) -> list[str]:
    return sorted(set(_LETTER.findall(answer)))


def verify_choice(response: str, reference: str, extraction: Extraction) -> Verification:
    answer = final_answer(response, extraction)
    letters = choice_letters(answer) if answer is not None else []
    if answer is None or not letters:
        return Verification("no_answer", answer, "no choice letter (A-Z) in the final answer")
    if len(letters) > 1:
        return Verification("ambiguous", answer, f"{len(letters)} letters chosen: only one may be",
                            tuple(letters))
    wanted = choice_letters(reference.strip().upper())
    return _decided(letters[0], letters == wanted[:1] and len(wanted) == 1, "".join(wanted))


def verify_regex(response: str, pattern: str, extraction: Extraction) -> Verification:
    answer = final_answer(response, extraction)
    if answer is None:
        return _no_answer(extraction)
    return _decided(answer, re.fullmatch(pattern, answer.strip()) is not None, pattern)


def json_text(response: str) -> str:
    """The last ```json fenced block, else the whole response."""
    fenced = _JSON_FENCE.findall(response)
    return (fenced[-1] if fenced else response).strip()


def verify_json_schema(response: str, schema: dict[str, Any]) -> Verification:
    text = json_text(response)
    if not text:
        return Verification("no_answer", detail="the response is empty")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        return Verification("incorrect", text[:200], f"not JSON: {error}")
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(part) for part in first.path) or "(root)"
        return Verification("incorrect", text[:200], f"{len(errors)} schema violation(s); at {where}: "
                            f"{first.message[:200]}")
    return Verification("correct", text[:200], "valid against the schema")
