"""Budget forcing inside the engine: a vLLM logits processor that writes a judgment's forced ending in the same
request, so a cut judgment needs no second round trip.

vLLM loads it in the engine process (`--logits-processors service.engine.forced_ending_processor:ForcedEnding`,
added by service/engine/launch.py). It acts only on requests whose `vllm_xargs` carry `genrm_force_at`: once such
a judgment has generated that many tokens (the budget less the ending's reserve), the processor decodes what it
wrote, asks `continuation_to_answer` for the rest of the ending (the open section's closing tag, `n/a` sections,
`<answer>`; models/formats/sections.py) and forces those tokens one per step. The judge then writes its answer
under the grammar, which ends the request. A judgment that ends on its own is never touched. Forcing waits up to
`UTF8_WAIT_TOKENS` steps for a character split across tokens to complete (the reserve holds them), so the forced
text is always valid for the grammar.

It runs in vLLM's process, never in the gateway's; the gateway only names it. Unit tests drive `RequestForcing`
with a tokenizer and a logits row, and tests/integration runs it in a real engine.
"""

from __future__ import annotations

from typing import Any

import torch
from vllm.tokenizers import cached_tokenizer_from_config
from vllm.v1.sample.logits_processor import AdapterLogitsProcessor

from models.formats.sections import continuation_to_answer
from service.engine.forcing_contract import FORCE_AT, UTF8_WAIT_TOKENS


class RequestForcing:
    """One judgment's forcing: nothing until `force_at` tokens, then the ending's tokens, then nothing again."""

    def __init__(self, force_at: int, tokenizer: Any) -> None:
        self.force_at = force_at
        self.tokenizer = tokenizer
        self.plan: list[int] | None = None
        self.started_at = 0

    def __call__(self, output_ids: list[int], logits: torch.Tensor) -> torch.Tensor:
        generated = len(output_ids)
        if generated < self.force_at:
            return logits
        if self.plan is None:
            text = self.tokenizer.decode(output_ids, skip_special_tokens=False)
            if text.endswith("\ufffd") and generated < self.force_at + UTF8_WAIT_TOKENS:
                return logits  # a character is split across tokens: let the judge finish it first
            rest = continuation_to_answer(text)
            self.plan = [] if not rest else list(self.tokenizer.encode(rest, add_special_tokens=False))
            self.started_at = generated
        step = generated - self.started_at
        if step >= len(self.plan):
            return logits
        forced = torch.full_like(logits, float("-inf"))
        forced[self.plan[step]] = 0.0
        return forced


class ForcedEnding(AdapterLogitsProcessor):
    """The engine-side half of budget forcing (see the module's docstring)."""

    def __init__(self, vllm_config: Any, device: torch.device, is_pin_memory: bool) -> None:
        super().__init__(vllm_config, device, is_pin_memory)
        self.tokenizer = cached_tokenizer_from_config(vllm_config.model_config)

    def is_argmax_invariant(self) -> bool:
        return False

    def new_req_logits_processor(self, params: Any) -> RequestForcing | None:
        force_at = (params.extra_args or {}).get(FORCE_AT)
        if force_at is None:
            return None
        return RequestForcing(int(force_at), self.tokenizer)
