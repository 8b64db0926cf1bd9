"""The manifest every training run writes beside its Hugging Face model directory, and the service reads.

`format` says how the service may use the checkpoint: `pointwise` or `pairwise` checkpoints are judges;
`policy` (BRPO) checkpoints are writing policies, which the service refuses to serve as judges.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

MANIFEST_FILE = "genrm-manifest.json"
CheckpointFormat = Literal["pointwise", "pairwise", "policy"]
PIPELINE_FORMAT: dict[str, CheckpointFormat] = {"par": "pointwise", "pairwise": "pairwise", "brpo": "policy"}


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    format: CheckpointFormat
    pipeline: str
    base_model: str
    data_hash: str
    step: int
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def data_hash(rows: list[dict[str, Any]]) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


def weights_digest(directory: Path) -> str:
    """The first 10 hex digits of the sha256 over the directory's safetensors files, in name order."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.safetensors")):
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:10]


def write_manifest(directory: Path, manifest: Manifest) -> Path:
    path = directory / MANIFEST_FILE
    path.write_text(json.dumps(asdict(manifest), indent=2, sort_keys=True, default=str), encoding="utf-8")
    return path


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory} has no {MANIFEST_FILE}: it is not a checkpoint written by `train`")
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") not in PIPELINE_FORMAT.values():
        known = sorted(set(PIPELINE_FORMAT.values()))
        raise ValueError(f"{path}: field `format` is {data.get('format')!r}, not one of {known}")
    return Manifest(**data)
