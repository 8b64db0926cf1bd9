"""`trajectory_messages`: TRL's tool-calling completions in the wire's shape, every call paired with its result."""

from __future__ import annotations

from genrm_client.adapters.trl_trajectories import trajectory_messages
from genrm_wire import TrajectoryMessageIn
from models.trajectories import trajectory_problems
from service.api.trajectory_translation import message_in


def _problems(messages: list[dict]) -> list[str]:
    parsed = [TrajectoryMessageIn.model_validate(message) for message in messages]
    return [problem.field for problem in trajectory_problems([message_in(m) for m in parsed])]


def test_calls_get_ids_and_results_answer_them_in_order() -> None:
    messages = trajectory_messages([
        {"role": "assistant", "content": None, "tool_calls": [
            {"type": "function", "function": {"name": "a", "arguments": {"x": 1}}},
            {"type": "function", "function": {"name": "b", "arguments": "{}"}}]},
        {"role": "tool", "name": "a", "content": "one"},
        {"role": "tool", "name": "b", "content": [{"type": "text", "text": "two"}]},
        {"role": "assistant", "content": "done"},
    ])
    calls = messages[0]["tool_calls"]
    assert [call["id"] for call in calls] == ["call_0_0", "call_0_1"]
    assert [call["function"]["arguments"] for call in calls] == ['{"x": 1}', "{}"]
    assert [m.get("tool_call_id") for m in messages[1:3]] == ["call_0_0", "call_0_1"]
    assert messages[2]["content"] == "two" and _problems(messages) == []


def test_given_ids_are_kept_and_a_plain_completion_is_one_assistant_turn() -> None:
    messages = trajectory_messages([
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c9", "type": "function",
                                                            "function": {"name": "a", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c9", "content": "r"},
    ])
    assert messages[1]["tool_call_id"] == "c9" and messages[0]["tool_calls"][0]["id"] == "c9"
    assert trajectory_messages("just text") == [{"role": "assistant", "content": "just text"}]


def test_a_result_with_no_call_before_it_is_left_for_the_service_to_refuse() -> None:
    messages = trajectory_messages([{"role": "tool", "name": "a", "content": "r"},
                                    {"role": "assistant", "content": "ok"}])
    assert messages[0]["tool_call_id"] is None and _problems(messages) == ["trajectory.0.tool_call_id"]
