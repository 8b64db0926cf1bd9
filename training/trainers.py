"""TRL `GRPOTrainer` subclasses, each changing one thing, plus a per-step summary line.

- `PARTrainer`: samples whole pairs (`PairRepeatSampler`), so R_PAR sees both sides of every pair.
- `BRPOTrainer`: the advantage is the BRPO reward itself. TRL always subtracts the group mean (even with
  `scale_rewards="none"`), so after TRL scores a batch this puts the raw rewards back. Groups whose rewards lean
  too far one way (|sum R| / G > `max_skew`) are dropped (advantage 0), and the drop rate is logged.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import torch
from transformers import TrainerCallback
from trl import GRPOTrainer

from training.rewards import keep_group
from training.sampler import PairRepeatSampler

logger = logging.getLogger(__name__)


class PARTrainer(GRPOTrainer):  # type: ignore[misc]
    def _get_train_sampler(self, dataset: Any = None) -> PairRepeatSampler:
        return PairRepeatSampler(
            data_source=dataset if dataset is not None else self.train_dataset,
            mini_repeat_count=self.num_generations,
            batch_size=self.args.generation_batch_size // self.num_generations,
            repeat_count=self.num_iterations * self.args.steps_per_generation,
            shuffle=self.shuffle_dataset,
            seed=self.args.seed,
        )


class BRPOTrainer(GRPOTrainer):  # type: ignore[misc]
    def __init__(self, *args: Any, max_skew: float = 0.6, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_skew = max_skew
        self._rewards_per_func: torch.Tensor | None = None

    def _calculate_rewards(self, inputs: Any, prompts: Any, completions: Any, completion_ids_list: Any) -> torch.Tensor:
        rewards: torch.Tensor = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._rewards_per_func = rewards
        return rewards

    def _generate_and_score_completions(self, inputs: Any) -> dict[str, Any]:
        output: dict[str, Any] = super()._generate_and_score_completions(inputs)
        assert self._rewards_per_func is not None
        weights = self.reward_weights.to(self._rewards_per_func.device).unsqueeze(0)
        rewards = torch.nan_to_num((self._rewards_per_func * weights).nansum(dim=1), nan=0.0)
        groups = rewards.view(-1, self.num_generations)
        kept = torch.tensor([keep_group(group.tolist(), self.max_skew) for group in groups], device=groups.device)
        advantages = (groups * kept.unsqueeze(1)).view(-1)
        local = len(output["advantages"])
        start = self.accelerator.process_index * local
        output["advantages"] = advantages[start : start + local].to(output["advantages"].device)
        mode = "train" if self.model.training else "eval"
        self._metrics[mode]["brpo/dropped_group_ratio"].append(1.0 - kept.float().mean().item())
        for reward_func in self.reward_funcs:
            for key, value in getattr(reward_func, "last_stats", {}).items():
                self._metrics[mode][f"brpo/{key}"].append(value)
        return output


class StepSummary(TrainerCallback):
    """One line per logged step: the numbers that say whether a run is learning."""

    KEYS = ("loss", "reward", "reward_std", "grad_norm", "frac_reward_zero_std", "brpo/dropped_group_ratio",
            "brpo/win_rate", "brpo/loss_rate", "brpo/inconsistent_rate", "brpo/mean_response_chars")

    def __init__(self, pipeline: str) -> None:
        self.pipeline = pipeline
        self._last = time.monotonic()

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **_: Any) -> None:
        if not logs or "loss" not in logs:
            return
        now = time.monotonic()
        fields = " ".join(f"{key.split('/')[-1]}={logs[key]:.4g}" for key in self.KEYS if key in logs)
        logger.info("[%s] step %d/%d %s (%.1f s)", self.pipeline, state.global_step, state.max_steps, fields,
                    now - self._last)
        self._last = now
