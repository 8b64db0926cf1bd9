"""Solutions cut into steps for process rewards: the split rules (`splitting`) and the per-step aggregates."""

from genrm_wire.steps import SplitRule
from models.steps.aggregates import StepAggregates, aggregate_steps
from models.steps.splitting import SPLIT_RULES, SplitError, Step, TooManySteps, split_solution

__all__ = [
    "SPLIT_RULES", "SplitError", "SplitRule", "Step", "StepAggregates", "TooManySteps", "aggregate_steps",
    "split_solution",
]
