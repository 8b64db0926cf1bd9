"""The judge models the service serves: name, version, formats, chat template, engine and defaults."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from models.chat import ChatTemplate
from models.formats.framing import Framing
from models.formats.sections import SectionedFormat, answer_closing
from models.formats.verdict_probability import UnreadableVerdicts, VerdictTree, verdict_tree
from models.integrity.flags import FlagDetector
from service.engine.pool import EnginePool
from service.errors import InvalidRequest, NotFound
from service.judging.admission import Admission
from service.settings import FormatName, SamplingDefaults


@dataclass
class JudgeModel:
    name: str
    version: str
    formats: frozenset[FormatName]
    constrained: bool
    template: ChatTemplate
    framing: Framing  # how its prompts quote untrusted text (its special tokens, the markup display)
    flag_detector: FlagDetector
    engine: EnginePool
    admission: Admission
    max_model_len: int
    sampling: SamplingDefaults
    per_request_seed: bool
    request_timeout_s: float
    forces_in_engine: bool = False  # its engines write a cut judgment's ending themselves (one request)

    def __post_init__(self) -> None:
        self._token_counts: dict[str, int] = {}
        self._verdict_trees: dict[str, VerdictTree] = {}

    def count_tokens(self, text: str) -> int:
        """How many tokens `text` is as literal text under this judge's tokenizer (the forced ending's reserve is
        counted with it); the few texts asked about are remembered."""
        if text not in self._token_counts:
            self._token_counts[text] = len(self.template.encode_literal(text))
        return self._token_counts[text]

    def verdict_tree(self, judge_format: SectionedFormat) -> VerdictTree:
        """The token tree of the format's verdicts under this judge's tokenizer (built once); InvalidRequest when
        the format has none or the tokenizer merges a verdict with the closing tag."""
        if judge_format.name not in self._verdict_trees:
            verdicts = [verdict for verdict, _ in judge_format.verdict_values]
            if not verdicts:
                raise InvalidRequest(f"the {judge_format.name} format has no probability verdict; use "
                                     "`verdict: sampled`", param="verdict")
            try:
                tree = verdict_tree(verdicts, answer_closing(), self.template.encode_literal)
            except UnreadableVerdicts as error:
                raise InvalidRequest(f"model {self.name!r} cannot give probability verdicts: {error}; use "
                                     "`verdict: sampled`", param="verdict") from error
            self._verdict_trees[judge_format.name] = tree
        return self._verdict_trees[judge_format.name]

    def require_format(self, format_name: str) -> None:
        if format_name not in self.formats:
            raise InvalidRequest(
                f"model {self.name!r} does not serve the {format_name} format (it serves "
                f"{sorted(self.formats)}); pick a model that does",
                param="model",
            )


class ModelRegistry:
    def __init__(self, models: Iterable[JudgeModel], default: str) -> None:
        self._models = {model.name: model for model in models}
        self.default = default

    def get(self, name: str | None) -> JudgeModel:
        model = self._models.get(name or self.default)
        if model is None:
            raise NotFound(
                f"no judge model named {name!r}; this service serves {sorted(self._models)}", param="model"
            )
        return model

    def __iter__(self) -> Iterator[JudgeModel]:
        return iter(self._models.values())
