"""The rule verifiers (`models/verifiers`): what each extracts, what it accepts, and what it never rewards."""

from __future__ import annotations

import pytest

from models.verifiers import VerifierSpec, run_verifier, verifier_version
from models.verifiers.extraction import alternatives, boxed_answers, stated_answers
from models.verifiers.registry import reference_problem, schema_problem


def verdict(name: str, response: str, reference: str, **spec: object) -> str:
    return run_verifier(VerifierSpec(name, **spec), response, reference).verdict  # type: ignore[arg-type]


def test_boxed_answers_balance_braces_and_keep_order() -> None:
    found = boxed_answers(r"first \boxed{\frac{1}{2}} then \fbox{x^{2}} and \boxed{unclosed")
    assert found == [r"\frac{1}{2}", "x^{2}"]


def test_auto_extraction_prefers_the_boxed_answer_then_answer_is() -> None:
    assert stated_answers(r"The answer is 3. So \boxed{4}", "auto") == ["4"]
    assert stated_answers("Thus the final answer is: 12.", "auto") == ["12."]
    assert stated_answers("no answer", "auto") == []
    assert stated_answers("a\nlast line \n\n", "last_line") == ["last line"]
    assert alternatives("3 or 4") == ["3", "4"] and alternatives("1/2") == ["1/2"]


@pytest.mark.parametrize(("response", "reference"), [
    (r"So \boxed{\frac{1}{2}}", "0.5"),
    (r"\boxed{\dfrac{3}{4}}", r"\frac34"),
    ("The answer is $2\\sqrt{2}$.", r"\sqrt{8}"),
    (r"\boxed{(1, 2]}", "(1,2]"),
    (r"\boxed{\{2, 1\}}", r"\{1,2\}"),
    (r"\boxed{x = 3}", "3"),
    (r"\boxed{1{,}000}", "1000"),
    (r"\boxed{3.0}", r"\boxed{3}"),
])
def test_math_accepts_equivalent_answers_written_differently(response: str, reference: str) -> None:
    assert verdict("math", response, reference) == "correct"


@pytest.mark.parametrize(("response", "reference"), [
    (r"\boxed{-3}", "3"),
    (r"\boxed{(1,2)}", "(1,2]"),
    (r"\boxed{\{1,2,3\}}", r"\{1,2\}"),
    (r"\boxed{3.14159}", r"\pi"),
])
def test_math_rejects_near_misses(response: str, reference: str) -> None:
    assert verdict("math", response, reference) == "incorrect"


def test_math_without_a_stated_answer_has_no_answer() -> None:
    assert verdict("math", "I think it is probably 4", "4") == "no_answer"


def test_enumerated_answers_are_ambiguous_and_never_correct() -> None:
    for spam in (r"\boxed{3} \boxed{4} \boxed{5}", "The answer is 3 or 4 or 5.", r"\boxed{4} or \boxed{5}"):
        found = run_verifier(VerifierSpec("math"), spam, "4")
        assert found.verdict == "ambiguous" and len(found.candidates) >= 2, spam
    # The same answer boxed twice is one answer.
    assert verdict("math", r"\boxed{4}, i.e. \boxed{4.0}", "4") == "correct"


def test_string_verifiers() -> None:
    assert verdict("exact", "Paris", "Paris") == "correct"
    assert verdict("exact", "paris", "Paris") == "incorrect"
    assert verdict("normalized", "The answer is  PARIS.", "paris") == "correct"
    assert verdict("normalized", r"\boxed{\text{Paris}}", "Paris") == "correct"
    assert verdict("normalized", "The answer is Paris or Lyon.", "Paris") == "ambiguous"


def test_choice_reads_one_letter() -> None:
    assert verdict("choice", "The answer is (B).", "B") == "correct"
    assert verdict("choice", r"\boxed{C}", "B") == "incorrect"
    assert verdict("choice", "Answer: A or C", "A") == "ambiguous"
    assert verdict("choice", "the answer is 42", "A") == "no_answer"


def test_regex_matches_the_whole_answer() -> None:
    assert verdict("regex", "The answer is 2024-01-02", r"\d{4}-\d{2}-\d{2}") == "correct"
    assert verdict("regex", "The answer is 2024-01-02T00", r"\d{4}-\d{2}-\d{2}") == "incorrect"


def test_json_schema_validates_the_last_json_block() -> None:
    schema = '{"type": "object", "required": ["name"], "properties": {"age": {"type": "integer"}}}'
    assert verdict("json_schema", '```json\n{"name": "a", "age": 3}\n```', schema) == "correct"
    found = run_verifier(VerifierSpec("json_schema"), '{"age": "x"}', schema)
    assert found.verdict == "incorrect" and "schema violation" in found.detail
    assert verdict("json_schema", "not json", schema) == "incorrect"
    shared = VerifierSpec("json_schema", schema={"type": "array"})
    assert run_verifier(shared, "[1, 2]", "").verdict == "correct"


def test_versions_name_the_rules_and_the_deciding_library() -> None:
    assert verifier_version("exact") == "genrm-exact/1"
    assert verifier_version("math").startswith("genrm-math/1 (math-verify ")


def test_references_are_checked_before_any_work() -> None:
    assert "has none" in (reference_problem(VerifierSpec("math"), None) or "")
    assert "has none" in (reference_problem(VerifierSpec("exact"), "  ") or "")
    assert "does not compile" in (reference_problem(VerifierSpec("regex"), "(") or "")
    assert "not JSON" in (reference_problem(VerifierSpec("json_schema"), "{") or "")
    assert "not a valid JSON Schema" in (reference_problem(VerifierSpec("json_schema"), '{"type": 3}') or "")
    assert reference_problem(VerifierSpec("json_schema", schema={"type": "object"}), None) is None
    assert schema_problem([1]) == "a JSON Schema is a JSON object"
    assert reference_problem(VerifierSpec("math"), "4") is None
