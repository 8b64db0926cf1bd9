"""What the gateway and the engine-side forced-ending processor agree on (service/engine/forced_ending_processor.py
runs in vLLM's process; this module is light, so the gateway never imports vLLM for it)."""

from __future__ import annotations

# `--logits-processors` value that makes a managed engine load the processor.
PROCESSOR_FQCN = "service.engine.forced_ending_processor:ForcedEnding"
# The request's `vllm_xargs` key: after this many generated tokens, the processor writes the ending.
FORCE_AT = "genrm_force_at"
# A UTF-8 character is at most 4 bytes: the processor waits at most 3 more tokens for one split across tokens.
UTF8_WAIT_TOKENS = 3
# Held back beyond the ending's reserve when the engine forces: the wait above, and one token for the written
# part's tokenization starting mid-tag (`al>` after `</ev`).
ENGINE_SLACK_TOKENS = UTF8_WAIT_TOKENS + 1
