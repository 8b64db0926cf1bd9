"""The stack reads in one direction: every import points down.

    genrm_wire (the HTTP contract: pydantic only)
        ^
    models (judge formats, rubrics, chat template, checkpoints)  ->  genrm_wire
        ^
    service (the gateway)                                         ->  models, genrm_wire
        ^
    genrm_client (typed clients, launcher)                        ->  genrm_wire only
        ^
    training, loadtests                                           ->  anything below
    evaluation (`genrm eval`)                                     ->  genrm_client, genrm_wire only

Checked on the source (every `import`, lazy ones inside functions included) and on a real interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PROJECT = {"genrm_wire", "genrm_client", "models", "service", "training", "loadtests", "evaluation", "tests"}
# What each layer may import of the project, besides itself.
ALLOWED: dict[str, set[str]] = {
    "genrm_wire": set(),
    "models": {"genrm_wire"},
    "service": {"genrm_wire", "models"},
    "genrm_client": {"genrm_wire"},
    "training": {"genrm_wire", "genrm_client", "models", "service"},
    "loadtests": {"genrm_wire", "genrm_client", "models", "service", "training"},
    # The eval measures what a trainer gets: over HTTP, through the client, never the service in-process.
    "evaluation": {"genrm_wire", "genrm_client"},
}
# Outside the project, the client may use only the standard library and its two declared dependencies, and one
# module its optional extra: `genrm_client.ray_judge` imports `ray` (genrm-client[ray]), inside its functions.
CLIENT_THIRD_PARTY = {"httpx", "pydantic"}
CLIENT_OPTIONAL = {"ray": "client/genrm_client/ray_judge.py"}
SOURCES = {"genrm_wire": ROOT / "client" / "genrm_wire", "genrm_client": ROOT / "client" / "genrm_client",
           **{layer: ROOT / layer for layer in ("models", "service", "training", "loadtests", "evaluation")}}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def layer_files(layer: str) -> list[Path]:
    files = sorted(SOURCES[layer].rglob("*.py"))
    assert files, f"no sources found for {layer} under {SOURCES[layer]}"
    return files


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_point_down(layer: str) -> None:
    wrong = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in layer_files(layer)
        for name in imported_packages(path) & PROJECT
        if name != layer and name not in ALLOWED[layer]
    }
    assert not wrong, f"{layer} imports up or sideways: {sorted(wrong)}"


@pytest.mark.parametrize("layer", ["genrm_wire", "genrm_client"])
def test_the_client_packages_use_only_the_standard_library_httpx_and_pydantic(layer: str) -> None:
    outside = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in layer_files(layer)
        for name in imported_packages(path) - PROJECT - CLIENT_THIRD_PARTY
        if name not in sys.stdlib_module_names and CLIENT_OPTIONAL.get(name) != str(path.relative_to(ROOT))
    }
    assert not outside, f"{layer} depends on more than httpx and pydantic: {sorted(outside)}"


def test_importing_the_client_loads_no_server_engine_or_torch() -> None:
    probe = (
        "import sys, genrm_client, genrm_client.launcher, genrm_client.ray_judge, genrm_wire\n"
        "heavy = {'service', 'models', 'training', 'fastapi', 'starlette', 'uvicorn', 'vllm', 'torch',\n"
        "         'transformers', 'yaml', 'prometheus_client', 'ray'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd="/")
    assert loaded.stdout.strip() == "[]"


def test_the_eval_cli_loads_no_server_engine_or_torch() -> None:
    """`genrm eval` runs on a laptop against a remote service: it needs the client and matplotlib, not the stack."""
    probe = (
        "import sys, evaluation.cli, evaluation.report\n"
        "heavy = {'service', 'models', 'training', 'fastapi', 'uvicorn', 'vllm', 'torch', 'transformers'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd="/")
    assert loaded.stdout.strip() == "[]"


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, dotted in full (`service.api.routes`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


# Inside the gateway: HTTP on top (`api`, `app`), the composition root (`state`) under it, then request
# orchestration, then the judges, engines and keys. Nothing below `api` knows FastAPI or Starlette.
GATEWAY_BELOW_HTTP = ("orchestration", "judging", "engine", "auth")
HTTP_ONLY = ("service.api", "service.app", "fastapi", "starlette")


@pytest.mark.parametrize("package", GATEWAY_BELOW_HTTP)
def test_the_gateway_below_http_imports_no_http_and_not_the_state(package: str) -> None:
    wrong = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "service" / package).rglob("*.py"))
        for name in imported_modules(path)
        if name.startswith(HTTP_ONLY) or name == "service.state"
    }
    assert not wrong, f"service/{package} imports up: {sorted(wrong)}"


def test_the_state_is_built_without_the_http_layer() -> None:
    wrong = {name for name in imported_modules(ROOT / "service" / "state.py") if name.startswith(HTTP_ONLY)}
    assert not wrong, f"service/state.py imports the HTTP layer: {sorted(wrong)}"
