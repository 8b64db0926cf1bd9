"""The Docker engine the container tests drive, and the project's images built once per test run.

`scripts/install.sh` installs Debian's `docker.io` and `docker-compose`; the package does not start the daemon, so
the first container test starts `dockerd` when no daemon answers (and stops it at the end of the run). Images are
built by `scripts/images.sh`, the script behind `make images`, with the host's build-layer cache: a rebuild after a
code change reruns only the thin layers above the locked packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.tools import require_tool

IMAGES = ("serve-cpu", "train-cpu", "prometheus")
SERVE_IMAGE = "genrm-serve:cpu"
TRAIN_IMAGE = "genrm-train:cpu"
# Images that no registry here serves: scripts/images.sh builds STAND-INS under the upstream names
# (deploy/images/standins/), each labelled `org.genrm.standin`.
STANDIN_LABEL = "org.genrm.standin"


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([require_tool("docker"), *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def daemon_answers() -> bool:
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        return False
    return subprocess.run([docker_cli, "info"], capture_output=True, timeout=30).returncode == 0


@dataclass(frozen=True)
class BuiltImages:
    build_log: str
    seconds: float

    def labels(self, image: str) -> dict[str, str]:
        found: dict[str, str] | None = json.loads(docker("image", "inspect", "-f", "{{json .Config.Labels}}",
                                                         image).stdout)
        return found or {}


@pytest.fixture(scope="session")
def docker_daemon() -> Iterator[None]:
    """A Docker daemon that answers: the running one, or `dockerd` started here for this test run."""
    if daemon_answers():
        yield
        return
    dockerd = require_tool("dockerd")
    log_path = Path(tempfile.mkdtemp(prefix="dockerd-")) / "dockerd.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([dockerd], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while not daemon_answers():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"dockerd did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.5)
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)


@pytest.fixture(scope="session")
def built_images(docker_daemon: None) -> BuiltImages:
    """The CPU serve and train images and the Prometheus image (or its stand-in), built once per test run."""
    started = time.monotonic()
    environment = {**os.environ, "IMAGES": " ".join(IMAGES)}
    result = subprocess.run(["bash", str(ROOT / "scripts" / "images.sh")], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, f"make images failed:\n{result.stderr[-5000:]}"
    return BuiltImages(build_log=result.stderr, seconds=time.monotonic() - started)
