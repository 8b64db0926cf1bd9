"""The rubric library: the real YAML files, the strict schema, load errors, released-rubric immutability."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from models.rubrics import DOMAINS, Rubric, RubricLibrary, RubricLoadError, UnknownRubricError, release
from models.rubrics.library import LOCK_FILE, lock_lines, read_lock
from models.rubrics.schema import split_reference

RUBRICS_DIR = Path(__file__).resolve().parents[2] / "rubrics"

BASE: dict[str, Any] = {
    "id": "chat.clarity",
    "version": 1,
    "domain": "chat",
    "title": "Clarity",
    "description": "Is it clear?",
    "weight": 1.0,
    "bands": [
        {"min": 6, "max": 10, "description": "Clear."},
        {"min": 0, "max": 5.9, "description": "Unclear."},
    ],
}


def write(root: Path, relative: str, data: Any) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def load_error(root: Path) -> str:
    with pytest.raises(RubricLoadError) as caught:
        RubricLibrary.load(root)
    return str(caught.value)


@pytest.fixture
def library_copy(tmp_path: Path) -> Path:
    root = tmp_path / "rubrics"
    shutil.copytree(RUBRICS_DIR, root)
    return root


# --- the real library --------------------------------------------------------------------------------------


def test_real_library_loads_every_domain() -> None:
    library = RubricLibrary.load(RUBRICS_DIR)
    assert library.domains == sorted(DOMAINS)
    assert len(library.rubrics) == len(list(RUBRICS_DIR.glob("*/*.yaml")))
    for rubric in library.rubrics:
        assert rubric.domain in DOMAINS
        assert rubric.id.startswith(rubric.domain + ".")
        assert Rubric.model_validate(rubric.model_dump()) == rubric
    for domain in DOMAINS:
        assert library.primary(domain).rubrics


def test_every_real_rubric_is_released_with_its_hash() -> None:
    library = RubricLibrary.load(RUBRICS_DIR)
    lock = read_lock(RUBRICS_DIR / LOCK_FILE)
    assert {rubric.key: rubric.content_hash() for rubric in library.rubrics} == lock


def test_bands_of_real_rubrics_cover_the_scale_ends() -> None:
    for rubric in RubricLibrary.load(RUBRICS_DIR).rubrics:
        assert min(band.min for band in rubric.bands) == 0, rubric.key
        assert max(band.max for band in rubric.bands) == 10, rubric.key


def test_primary_math_has_two_rubrics() -> None:
    primary = RubricLibrary.load(RUBRICS_DIR).primary("math")
    assert primary.keys == ["math.correctness@1", "math.logic@1"]


def test_primary_unknown_domain() -> None:
    with pytest.raises(UnknownRubricError):
        RubricLibrary.load(RUBRICS_DIR).primary("poetry")


def test_resolve_by_id_and_version() -> None:
    library = RubricLibrary.load(RUBRICS_DIR)
    resolved = library.resolve(["chat.usefulness@1"])
    assert resolved.keys == ["chat.usefulness@1"]
    assert resolved.rubrics[0].title == "Usefulness"
    assert library.resolve(["chat.usefulness"]).keys == ["chat.usefulness@1"]
    both = library.resolve(["math.logic", "chat.usefulness@1"])
    assert both.keys == ["math.logic@1", "chat.usefulness@1"]


@pytest.mark.parametrize("reference", ["chat.nonexistent", "chat.usefulness@2", "nope@1"])
def test_unknown_rubric_raises(reference: str) -> None:
    with pytest.raises(UnknownRubricError) as caught:
        RubricLibrary.load(RUBRICS_DIR).resolve([reference])
    assert caught.value.reference == reference
    assert reference in str(caught.value)
    assert "chat.usefulness@1" in str(caught.value)  # lists what is known


def test_split_reference() -> None:
    assert split_reference("chat.usefulness") == ("chat.usefulness", None)
    assert split_reference("chat.usefulness@12") == ("chat.usefulness", 12)
    with pytest.raises(ValueError):
        split_reference("chat.usefulness@latest")


def test_content_hash_stable_across_loads() -> None:
    one, two = RubricLibrary.load(RUBRICS_DIR), RubricLibrary.load(RUBRICS_DIR)
    assert one.content_hash == two.content_hash
    assert one.content_hash.startswith("sha256:")
    assert [r.content_hash() for r in one.rubrics] == [r.content_hash() for r in two.rubrics]
    assert one.primary("math").content_hash == two.primary("math").content_hash


def test_content_hash_ignores_int_vs_float_and_default_weight() -> None:
    base = Rubric.model_validate(BASE)
    float_bands = [{**b, "min": float(b["min"]), "max": float(b["max"])} for b in BASE["bands"]]
    as_floats = {**BASE, "bands": float_bands}
    without_weight = {k: v for k, v in BASE.items() if k != "weight"}
    assert Rubric.model_validate(as_floats).content_hash() == base.content_hash()
    assert Rubric.model_validate(without_weight).content_hash() == base.content_hash()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "chat.clearness"),
        ("version", 2),
        ("domain", "math"),
        ("title", "Clarity!"),
        ("description", "Is it clear? "),
        ("weight", 2.0),
        ("bands", [{**BASE["bands"][0], "description": "Clear!"}, BASE["bands"][1]]),
        ("bands", [{**BASE["bands"][0], "min": 5}, {**BASE["bands"][1], "max": 4.9}]),
        ("bands", [{"min": 6, "max": 10, "description": "Clear."}]),
    ],
)
def test_content_hash_changes_with_any_field(field: str, value: Any) -> None:
    base = Rubric.model_validate(BASE)
    changed = Rubric.model_validate({**BASE, field: value})
    assert changed.content_hash() != base.content_hash()


def test_rubric_set_hash_depends_on_order() -> None:
    library = RubricLibrary.load(RUBRICS_DIR)
    ab = library.resolve(["math.logic", "math.correctness"])
    ba = library.resolve(["math.correctness", "math.logic"])
    assert ab.content_hash != ba.content_hash


def test_latest_version_is_primary(library_copy: Path) -> None:
    source = yaml.safe_load((library_copy / "chat" / "usefulness.yaml").read_text())
    write(library_copy, "chat/usefulness_v2.yaml", {**source, "version": 2, "description": "New wording."})
    library = RubricLibrary.load(library_copy)
    assert library.primary("chat").keys == ["chat.usefulness@2"]
    assert library.get("chat.usefulness@1").version == 1
    assert library.get("chat.usefulness").description == "New wording."


# --- load errors name the file and the field ---------------------------------------------------------------


def test_valid_minimal_file_loads(tmp_path: Path) -> None:
    write(tmp_path, "chat/clarity.yaml", BASE)
    library = RubricLibrary.load(tmp_path)
    assert library.primary("chat").keys == ["chat.clarity@1"]
    assert library.domains == ["chat"]


def test_unknown_extra_field(tmp_path: Path) -> None:
    path = write(tmp_path, "chat/clarity.yaml", {**BASE, "colour": "blue"})
    message = load_error(tmp_path)
    assert str(path) in message
    assert "`colour`" in message


def test_missing_bands(tmp_path: Path) -> None:
    path = write(tmp_path, "chat/clarity.yaml", {k: v for k, v in BASE.items() if k != "bands"})
    message = load_error(tmp_path)
    assert str(path) in message
    assert "`bands`" in message
    assert "required" in message.lower()


def test_band_min_above_max(tmp_path: Path) -> None:
    bands = [{"min": 10, "max": 6, "description": "Backwards."}, BASE["bands"][1]]
    path = write(tmp_path, "chat/clarity.yaml", {**BASE, "bands": bands})
    message = load_error(tmp_path)
    assert str(path) in message
    assert "`bands.0`" in message
    assert "above max" in message


def test_overlapping_bands(tmp_path: Path) -> None:
    bands = [{"min": 5, "max": 10, "description": "High."}, {"min": 0, "max": 5, "description": "Low."}]
    path = write(tmp_path, "chat/clarity.yaml", {**BASE, "bands": bands})
    message = load_error(tmp_path)
    assert str(path) in message
    assert "bands" in message
    assert "overlap" in message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "Chat Clarity"),
        ("id", "clarity"),
        ("version", 0),
        ("title", ""),
        ("weight", 0),
        ("bands", []),
    ],
)
def test_invalid_field_values(tmp_path: Path, field: str, value: Any) -> None:
    path = write(tmp_path, "chat/clarity.yaml", {**BASE, field: value})
    message = load_error(tmp_path)
    assert str(path) in message
    assert f"`{field}`" in message


def test_band_score_outside_the_scale(tmp_path: Path) -> None:
    bands = [{"min": 0, "max": 11, "description": "Too high."}]
    write(tmp_path, "chat/clarity.yaml", {**BASE, "bands": bands})
    assert "`bands.0.max`" in load_error(tmp_path)


def test_domain_mismatch_with_folder(tmp_path: Path) -> None:
    path = write(tmp_path, "math/clarity.yaml", BASE)
    message = load_error(tmp_path)
    assert str(path) in message
    assert "`domain`" in message
    assert "math/" in message


def test_invalid_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "chat/clarity.yaml", "id: chat.clarity\nbands: [unclosed\n")
    message = load_error(tmp_path)
    assert str(path) in message
    assert "YAML" in message


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- id: chat.clarity\n- version: 1\n", "list"), ("", "NoneType"), ("just a string\n", "str")],
)
def test_yaml_that_is_not_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    path = write(tmp_path, "chat/clarity.yaml", text)
    message = load_error(tmp_path)
    assert str(path) in message
    assert "mapping" in message
    assert kind in message


def test_duplicate_id_and_version_in_two_files(tmp_path: Path) -> None:
    first = write(tmp_path, "chat/a.yaml", BASE)
    second = write(tmp_path, "chat/b.yaml", {**BASE, "title": "Other"})
    message = load_error(tmp_path)
    assert str(first) in message
    assert str(second) in message
    assert "chat.clarity@1" in message


def test_empty_directory(tmp_path: Path) -> None:
    assert "no rubric files" in load_error(tmp_path)


def test_files_outside_domain_folders_are_not_rubrics(tmp_path: Path) -> None:
    write(tmp_path, "clarity.yaml", BASE)
    write(tmp_path, "chat/deeper/clarity.yaml", BASE)
    assert "no rubric files" in load_error(tmp_path)


def test_malformed_lock_line(library_copy: Path) -> None:
    (library_copy / LOCK_FILE).write_text("chat.usefulness@1\n", encoding="utf-8")
    message = load_error(library_copy)
    assert f"{LOCK_FILE}:1" in message


def test_yaml_is_loaded_safely(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"
    path = write(tmp_path, "chat/evil.yaml", f'!!python/object/apply:os.system ["touch {marker}; echo hi"]\n')
    message = load_error(tmp_path)
    assert str(path) in message
    assert not marker.exists()
    assert "hi" not in capfd.readouterr().out


def test_yaml_tag_inside_a_field_is_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = yaml.safe_dump(BASE, sort_keys=False).replace(
        "title: Clarity", f'title: !!python/object/apply:os.system ["touch {marker}"]'
    )
    write(tmp_path, "chat/evil.yaml", text)
    load_error(tmp_path)
    assert not marker.exists()


# --- released rubrics are immutable ------------------------------------------------------------------------


def test_changed_released_rubric_fails_to_load(library_copy: Path) -> None:
    path = library_copy / "chat" / "usefulness.yaml"
    data = yaml.safe_load(path.read_text())
    write(library_copy, "chat/usefulness.yaml", {**data, "description": data["description"] + " Also kind."})
    message = load_error(library_copy)
    assert "immutable" in message
    assert "chat.usefulness@1" in message
    assert "bump" in message


def test_changed_band_of_released_rubric_fails_to_load(library_copy: Path) -> None:
    path = library_copy / "math" / "logic.yaml"
    path.write_text(path.read_text().replace("max: 3.9", "max: 3.8"), encoding="utf-8")
    assert "immutable" in load_error(library_copy)


def test_bumped_version_of_released_rubric_loads(library_copy: Path) -> None:
    path = library_copy / "chat" / "usefulness.yaml"
    data = yaml.safe_load(path.read_text())
    write(library_copy, "chat/usefulness.yaml", {**data, "version": 2, "description": "Reworded."})
    library = RubricLibrary.load(library_copy)
    assert library.primary("chat").keys == ["chat.usefulness@2"]
    assert "chat.usefulness@2" not in read_lock(library_copy / LOCK_FILE)


def test_formatting_only_change_of_released_rubric_loads(library_copy: Path) -> None:
    path = library_copy / "chat" / "usefulness.yaml"
    data = yaml.safe_load(path.read_text())
    path.write_text("# a comment\n" + yaml.safe_dump(data, sort_keys=True, default_flow_style=False))
    RubricLibrary.load(library_copy)


def test_lock_lines_keep_existing_entries() -> None:
    library = RubricLibrary.load(RUBRICS_DIR)
    released = {"chat.usefulness@1": "sha256:original", "retired.rubric@3": "sha256:kept"}
    lines = lock_lines(library.rubrics, released)
    assert "chat.usefulness@1 sha256:original" in lines
    assert "retired.rubric@3 sha256:kept" in lines
    assert f"math.logic@1 {library.get('math.logic@1').content_hash()}" in lines
    assert lines == sorted(lines)
    assert len(lines) == len(library.rubrics) + 1


def test_release_adds_new_versions_and_keeps_old(
    library_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = read_lock(library_copy / LOCK_FILE)
    data = yaml.safe_load((library_copy / "chat" / "usefulness.yaml").read_text())
    write(library_copy, "chat/usefulness_v2.yaml", {**data, "version": 2, "description": "Reworded."})
    assert release.main([str(library_copy)]) == 0
    after = read_lock(library_copy / LOCK_FILE)
    assert {k: v for k, v in after.items() if k in before} == before
    assert set(after) - set(before) == {"chat.usefulness@2"}
    assert "released rubrics" in capsys.readouterr().out
    # releasing again changes nothing, and the new version is now immutable too
    text = (library_copy / LOCK_FILE).read_text()
    release.main([str(library_copy)])
    assert (library_copy / LOCK_FILE).read_text() == text
    write(library_copy, "chat/usefulness_v2.yaml", {**data, "version": 2, "description": "Changed again."})
    assert "immutable" in load_error(library_copy)
