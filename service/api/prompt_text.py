"""Reading trainers' text forms: the response inside OpenRLHF's `query`, and a chat-templated prompt back into
the conversation the judge should read.

- `response_from_query`: `query` is the prompt followed by the response, decoded with special tokens kept. The
  response is what follows the prompt (after a leading BOS the decode may add); trailing end-of-turn markers
  (`<|im_end|>`, `<|eot_id|>`, `</s>`, ...) are dropped. A query that does not contain its prompt gives None:
  the caller refuses it rather than judge text it cannot delimit.
- `conversation_from_text`: ChatML (`<|im_start|>role ... <|im_end|>`) and Llama-3 header markup become turns;
  the open assistant turn at the end is dropped; any other text is one user turn.
"""

from __future__ import annotations

import re

from models.chat import ChatMessage, Conversation

MAX_LEADING_CHARS = 64  # a BOS or similar marker that decoding may put before the prompt
_TRAILING_MARKERS = re.compile(r"(?:\s*(?:<\|[A-Za-z0-9_]{1,40}\|>|</s>|<eos>|<end_of_turn>))+\s*$")
_TEMPLATES = (
    re.compile(r"<\|im_start\|>(system|user|assistant)\n(.*?)(?=<\|im_end\|>|<\|im_start\|>|$)", re.S),
    re.compile(r"<\|start_header_id\|>(system|user|assistant)<\|end_header_id\|>\n\n(.*?)(?=<\|eot_id\|>|"
               r"<\|start_header_id\|>|$)", re.S),
)


def response_from_query(query: str, prompt: str) -> str | None:
    at = query.find(prompt)
    if not prompt or at < 0 or at > MAX_LEADING_CHARS:
        return None
    return _TRAILING_MARKERS.sub("", query[at + len(prompt):])


def conversation_from_text(prompt: str) -> Conversation:
    for template in _TEMPLATES:
        turns = [(role, content.strip()) for role, content in template.findall(prompt)]
        if turns and turns[-1] == ("assistant", ""):
            turns.pop()  # the generation prompt the policy answered
        if turns:
            return [ChatMessage(role, content) for role, content in turns]
    return prompt.strip()
