"""Why an engine is slow to start, in words an operator can act on: an engine pinned to a busy core crawls, and
the log says so and names the setting (`cpu_threads_bind`) instead of waiting in silence."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from service.engine.processes import group_cpu_seconds

STARVED_CPU_SHARE = 0.2  # below this share of one CPU during start-up, the engine is being starved


def cpu_share(group: int | None, elapsed_s: float) -> float | None:
    """CPUs' worth of time the engine's processes used since launch (1.0 = one core busy throughout)."""
    if group is None or elapsed_s <= 0:
        return None
    return round(group_cpu_seconds(group) / elapsed_s, 3)


@dataclass(frozen=True)
class StartupDiagnosis:
    cpu_binding: str | None
    log_path: Path
    startup_timeout_s: float

    @staticmethod
    def starved(share: float | None) -> bool:
        return share is not None and share < STARVED_CPU_SHARE

    def explain(self, share: float | None) -> str:
        if self.starved(share):
            cores = self.cpu_binding or "vLLM's default (the lowest cores)"
            return (f"It got {share:.1%} of a CPU: its cores ({cores}) are likely busy with another process. "
                    f"Set `cpu_threads_bind` on this engine to idle cores (see `top`, then press 1), or stop what "
                    f"runs there. Engine log: {self.log_path}")
        return (f"It used {share if share is not None else '?'} CPUs meanwhile; see its log {self.log_path}, "
                f"or raise `startup_timeout_s` ({self.startup_timeout_s:.0f} s)")
