"""Reading trainers' text forms: the response inside a decoded query, and a templated prompt's turns."""

from __future__ import annotations

from models.chat import ChatMessage
from service.api.prompt_text import conversation_from_text, response_from_query

CHATML = "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nSay hi.<|im_end|>\n<|im_start|>assistant\n"
LLAMA3 = ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nSay hi.<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_the_response_is_what_follows_the_prompt_without_end_markers() -> None:
    assert response_from_query(CHATML + "Hello there!<|im_end|>", CHATML) == "Hello there!"
    assert response_from_query(LLAMA3 + "Hi.<|eot_id|><|end_of_text|>", LLAMA3) == "Hi."
    assert response_from_query("<s>" + "Q: 2+2? A:" + " 4</s>", "Q: 2+2? A:") == " 4"  # a leading BOS


def test_a_query_without_its_prompt_is_not_guessed_at() -> None:
    assert response_from_query("something else entirely", CHATML) is None
    assert response_from_query("x" * 100 + CHATML + "late", CHATML) is None
    assert response_from_query("anything", "") is None


def test_markers_inside_the_response_stay() -> None:
    assert response_from_query(CHATML + "use <|im_end|> to stop, ok", CHATML) == "use <|im_end|> to stop, ok"


def test_templated_prompts_become_turns_and_plain_text_one_user_turn() -> None:
    assert conversation_from_text(CHATML) == [ChatMessage("system", "Be kind."), ChatMessage("user", "Say hi.")]
    assert conversation_from_text(LLAMA3) == [ChatMessage("user", "Say hi.")]
    assert conversation_from_text("  Just a question?\n") == "Just a question?"
