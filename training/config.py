"""Recipe arguments (ours) beside TRL's `GRPOConfig`; `TrlParser` reads both from one YAML file.

    train par --config training/recipes/par-cpu-smoke.yaml [--max_steps 2 ...]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from genrm_wire.preference_split import SPLITS

DATA = Path(__file__).resolve().parent.parent / "data"  # the project's data/ (see data/README.md)


@dataclass
class RecipeArguments:
    model_name: str = field(
        default="",
        metadata={"help": "Name the service serves the checkpoint under; default: <pipeline>-judge."},
    )
    base_model: str = field(
        default="",
        metadata={"help": "Hugging Face model directory to start from; empty: the bundled SmolLM2."},
    )
    data_path: str = field(
        default="",
        metadata={"help": "JSONL data; empty: the project's data/ (preferences, or writing prompts for BRPO)."},
    )
    tasks: list[str] = field(default_factory=lambda: ["chat"], metadata={"help": "Rubric domains of the pairs to use."})
    max_examples: int = field(default=4, metadata={"help": "Pairs (PAR, pairwise) or prompts (BRPO) to read."})
    split: str = field(default="all", metadata={"help": "Which pairs: all, train (never the held-out ones "
                                                       "`genrm eval --split heldout` measures on), heldout."})
    par_shaping: str = field(default="graded", metadata={"help": "PAR's f: graded (1.2 / 1.4) or constant (1.3)."})
    service_url: str = field(
        default="",
        metadata={"help": "The judging service (BRPO's judge, cold-start data); empty: start one."},
    )
    judge_votes: int = field(
        default=1,
        metadata={"help": "Votes per order when the service judges (BRPO, cold start)."},
    )
    brpo_inconsistent_reward: float = field(
        default=0.0,
        metadata={"help": "BRPO reward for an inconsistent verdict: 0 or -1."},
    )
    brpo_max_skew: float = field(default=0.6, metadata={"help": "Drop BRPO groups with |sum R| / G above this."})
    sft_steps: int = field(
        default=0,
        metadata={"help": "Cold-start SFT steps on service-made, label-agreeing judgments (0: none)."},
    )
    sft_votes: int = field(default=4, metadata={"help": "Judgments sampled per item for cold-start data."})
    sft_learning_rate: float = field(default=5e-5, metadata={"help": "Cold-start SFT learning rate."})
    require_learning: bool = field(
        default=True,
        metadata={"help": "Fail a run whose reward spread or gradient norm stayed 0."},
    )

    def __post_init__(self) -> None:
        if self.par_shaping not in ("graded", "constant"):
            raise ValueError(f"par_shaping={self.par_shaping!r}: use 'graded' (the paper's better one) or 'constant'")
        if self.brpo_inconsistent_reward not in (0.0, -1.0):
            raise ValueError(f"brpo_inconsistent_reward={self.brpo_inconsistent_reward}: BRPO reads an "
                             "inconsistent verdict as 0 or as -1; pick one")
        if not 0 <= self.brpo_max_skew <= 1:
            raise ValueError(f"brpo_max_skew={self.brpo_max_skew} must be in [0, 1] (the paper uses 0.6)")
        if self.split not in SPLITS:
            raise ValueError(f"split {self.split!r}: use one of {SPLITS}")
        if self.max_examples < 1 or self.judge_votes < 1 or self.sft_steps < 0:
            raise ValueError("max_examples and judge_votes must be at least 1, sft_steps at least 0")

    def data_file(self, pipeline: str) -> Path:
        if self.data_path:
            return Path(self.data_path)
        return DATA / ("writing-prompts.jsonl" if pipeline == "brpo" else "preferences-dev.jsonl")
