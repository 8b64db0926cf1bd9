"""What the judges take and give, in the judging layer's own types (the HTTP layer translates to and from the
wire models in `service.api.translation`).

Outcomes are frozen: the batch copies one with `dataclasses.replace` to mark it cached or a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from genrm_wire.judging import ItemStatus, VerdictMode
from genrm_wire.steps import StepStrategy, StepVerdictName
from genrm_wire.trajectories import Compaction, TrajectoryView
from genrm_wire.verifying import DecidedBy, Escalation, RewardPolicyName
from models.chat import Conversation
from models.integrity.flags import Flag
from models.steps import Step, StepAggregates
from models.trajectories import Message
from models.verifiers import Verification, VerifierSpec
from service.judging.aggregation import Aggregate, Label, Order, Preference


@dataclass(frozen=True)
class ScoreItem:
    id: str
    prompt: Conversation
    response: str
    reference: str | None = None  # what a rule verifier checks the response against


@dataclass(frozen=True)
class CompareItem:
    id: str
    prompt: Conversation
    response_a: str
    response_b: str


@dataclass(frozen=True)
class AdaptiveVoting:
    """Draw votes in rounds of `round_votes` and stop once they agree (see each judge's stopping rule)."""

    round_votes: int
    max_stderr: float
    min_margin: float


@dataclass(frozen=True)
class VerificationPlan:
    """Who decides a scored item: a rule verifier, the reference-equivalence judge, or both (`genrm_wire.verifying`
    says each policy)."""

    spec: VerifierSpec
    policy: RewardPolicyName
    escalate_on: frozenset[Escalation]
    verifier_weight: float


@dataclass(frozen=True)
class ScoreSettings:
    votes: int
    aggregate: Aggregate
    adaptive: AdaptiveVoting | None
    include_judgments: bool
    verification: VerificationPlan | None = None
    verdict: VerdictMode = "sampled"


@dataclass(frozen=True)
class CompareSettings:
    votes: int
    swap: bool
    adaptive: AdaptiveVoting | None
    include_judgments: bool
    verdict: VerdictMode = "sampled"


@dataclass(frozen=True)
class Judgment:
    """One vote's text and what it parsed to; `winner` is mapped back to the request's labels."""

    text: str
    finish_reason: str | None
    order: Order | None = None
    score: float | None = None
    winner: Label | None = None
    failure: str | None = None
    failure_detail: str | None = None
    forced: bool = False
    p: Mapping[str, float] | None = None  # the verdict distribution read after it (verdict expected or direct)


@dataclass(frozen=True)
class ItemOutcome:
    """One item's result. `error` is the message of a status other than `ok`; `penalized` when the request's
    flag policy set the result instead of the judge."""

    id: str
    status: ItemStatus
    error: str | None = None
    cached: bool = False
    duplicate_of: str | None = None
    votes_used: int = 0
    parse_failures: Mapping[str, int] = field(default_factory=dict)
    judgments: tuple[Judgment, ...] | None = None
    flags: tuple[Flag, ...] = ()
    penalized: bool = False


@dataclass(frozen=True)
class EquivalenceResult:
    """The judge's answer on a reference: equivalent when both orders' majorities said so."""

    equivalent: bool
    p_equal: float
    by_order: Mapping[str, float]
    votes_used: int


@dataclass(frozen=True)
class VerifiedAnswer:
    verifier: str  # name and version
    verification: Verification


@dataclass(frozen=True)
class ScoreOutcome(ItemOutcome):
    score: float | None = None
    scores: tuple[float, ...] = ()
    std: float | None = None
    decided_by: DecidedBy | None = None
    verified: VerifiedAnswer | None = None
    p: Mapping[str, float] | None = None  # verdict expected|direct: each score's probability, mean over votes
    equivalence: EquivalenceResult | None = None


@dataclass(frozen=True)
class MappedVote:
    order: Order
    winner: Label


@dataclass(frozen=True)
class CompareOutcome(ItemOutcome):
    preference: Preference | None = None
    p_a: float | None = None
    consistent: bool | None = None
    votes: tuple[MappedVote, ...] = ()


@dataclass(frozen=True)
class StepItem:
    """A solution cut into steps (`models.steps`); `steps` hold each step's span in `solution`."""

    id: str
    prompt: Conversation
    solution: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class StepSettings:
    strategy: StepStrategy
    votes: int
    include_judgments: bool
    verdict: VerdictMode = "sampled"


@dataclass(frozen=True)
class StepResult:
    step: Step
    verdict: StepVerdictName | None
    score: float | None
    votes: Mapping[str, int]
    p: Mapping[str, float] | None = None  # the mean distribution read at its verdicts (verdict expected|direct)


@dataclass(frozen=True)
class StepOutcome(ItemOutcome):
    steps: tuple[StepResult, ...] = ()
    aggregates: StepAggregates | None = None


@dataclass(frozen=True)
class TrajectoryItem:
    """An agent's trajectory (`models.trajectories`), judged as `view` and at the assistant turns `turns`."""

    id: str
    prompt: Conversation
    messages: tuple[Message, ...]
    view: TrajectoryView
    turns: tuple[int, ...]


@dataclass(frozen=True)
class TrajectorySettings:
    votes: int
    include_judgments: bool
    compact: Compaction
    verdict: VerdictMode = "sampled"


@dataclass(frozen=True)
class TurnResult:
    index: int
    status: ItemStatus
    score: float | None = None
    scores: tuple[float, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class TrajectoryOutcome(ItemOutcome):
    score: float | None = None
    scores: tuple[float, ...] = ()
    std: float | None = None
    turns: tuple[TurnResult, ...] = ()
    messages: int = 0  # the trajectory's length, which `turn_scores` is aligned with
    dropped_tool_outputs: int = 0
