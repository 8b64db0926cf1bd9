"""`PairRepeatSampler`: TRL's `RepeatSampler`, shuffling whole pairs instead of rows.

PAR needs both sides of a pair (rows 2k and 2k+1) and all their rollouts in one reward call. TRL's sampler
shuffles rows, which splits pairs across batches. This one permutes pairs and yields each pair's two rows next
to each other, every index `mini_repeat_count` times, as `RepeatSampler` does. The prompts per generation batch
must therefore be even.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

import torch
from trl.trainer.utils import RepeatSampler


class PairRepeatSampler(RepeatSampler):  # type: ignore[misc]
    def __init__(self, data_source: Sized, mini_repeat_count: int, batch_size: int = 2, repeat_count: int = 1,
                 shuffle: bool = True, seed: int | None = None) -> None:
        if len(data_source) % 2:
            raise ValueError(f"PAR data must hold whole pairs (rows 2k, 2k+1); got {len(data_source)} rows")
        if batch_size % 2:
            raise ValueError(
                f"{batch_size} prompts per generation batch would split a pair; make generation_batch_size a "
                "multiple of 2 * num_generations"
            )
        super().__init__(data_source, mini_repeat_count, batch_size, repeat_count, shuffle, seed)

    def __iter__(self) -> Iterator[int]:
        pairs = self.num_samples // 2
        order = torch.randperm(pairs, generator=self.generator).tolist() if self.shuffle else list(range(pairs))
        indexes = [row for pair in order for row in (2 * pair, 2 * pair + 1)]
        chunks = [indexes[i : i + self.batch_size] for i in range(0, len(indexes), self.batch_size)]
        for chunk in chunks:
            if len(chunk) != self.batch_size:
                continue
            for _ in range(self.repeat_count):
                for index in chunk:
                    for _ in range(self.mini_repeat_count):
                        yield index
