"""usage.py: cumulative usageMetadata into per-turn deltas, totals, cost and budget."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_gemini_live.usage import (
    Budget,
    Prices,
    Tokens,
    UsageMeter,
    UsagePolicy,
    price_tables,
)


def report(
    prompt: dict[str, int], response: dict[str, int], thoughts: int = 0, tool: int = 0
) -> dict[str, Any]:
    """A cumulative report as the SDK dumps it (snake_case)."""
    body: dict[str, Any] = {
        "prompt_token_count": sum(prompt.values()),
        "response_token_count": sum(response.values()),
        "total_token_count": sum(prompt.values()) + sum(response.values()) + thoughts + tool,
        "prompt_tokens_details": [{"modality": m, "token_count": n} for m, n in prompt.items()],
        "response_tokens_details": [{"modality": m, "token_count": n} for m, n in response.items()],
    }
    if thoughts:
        body["thoughts_token_count"] = thoughts
    if tool:
        body["tool_use_prompt_token_count"] = tool
    return body


def test_cumulative_reports_become_per_turn_deltas():
    meter = UsageMeter("gemini-3.8-live")
    meter.observe(report({"AUDIO": 50}, {"AUDIO": 100}))
    first = meter.end_turn()
    meter.observe(report({"AUDIO": 80, "TEXT": 10}, {"AUDIO": 160}))
    second = meter.end_turn()
    assert first.tokens == Tokens(prompt_audio=50, response_audio=100, total=150)
    assert second.tokens == Tokens(prompt_audio=30, prompt_text=10, response_audio=60, total=100)
    # summing the reports would have said 400: the session used 250
    assert meter.session.tokens.total == 250
    assert meter.session.tokens == first.tokens + second.tokens


def test_several_reports_in_one_turn_add_up_to_the_last():
    meter = UsageMeter("m")
    for cumulative in (10, 25, 25, 40):
        meter.observe(report({"TEXT": cumulative}, {}))
    assert meter.end_turn().tokens == Tokens(prompt_text=40, total=40)
    assert meter.end_turn().tokens == Tokens()


def test_a_reconnect_that_resets_the_counter_counts_from_zero():
    meter = UsageMeter("m")
    meter.observe(report({"AUDIO": 100}, {"AUDIO": 200}))
    meter.end_turn()
    # the new connection's first report is smaller than the last: a reset
    delta = meter.observe(report({"AUDIO": 20}, {"AUDIO": 30}))
    assert delta == Tokens(prompt_audio=20, response_audio=30, total=50)
    meter.observe(report({"AUDIO": 40}, {"AUDIO": 90}))
    assert meter.end_turn().tokens == Tokens(prompt_audio=40, response_audio=90, total=130)
    assert meter.session.tokens.total == 300 + 130


def test_new_connection_counts_from_zero_even_when_the_first_report_is_larger():
    meter = UsageMeter("m")
    meter.observe(report({"TEXT": 10}, {"AUDIO": 10}))
    meter.new_connection()
    delta = meter.observe(report({"TEXT": 15}, {"AUDIO": 30}))
    assert delta == Tokens(prompt_text=15, response_audio=30, total=45)
    assert meter.session.tokens.total == 65


def test_modalities_thinking_and_tool_use():
    tokens = Tokens.from_metadata(
        report({"TEXT": 5, "AUDIO": 7, "IMAGE": 258, "VIDEO": 2}, {"AUDIO": 9}, thoughts=11, tool=3)
    )
    assert tokens == Tokens(
        prompt_text=5,
        prompt_audio=7,
        prompt_image=260,
        response_audio=9,
        thinking=11,
        tool_use=3,
        total=5 + 7 + 260 + 9 + 11 + 3,
    )
    assert tokens.to_json() == {
        "prompt": {"text": 5, "audio": 7, "image": 260},
        "response": {"text": 0, "audio": 9, "image": 0},
        "thinking": 11,
        "tool_use": 3,
        "total": 295,
    }


def test_camel_case_vertex_names_and_undetailed_counts():
    wire = {
        "promptTokenCount": 30,
        "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 20}],
        "candidatesTokenCount": 12,
        "thoughtsTokenCount": 4,
    }
    tokens = Tokens.from_metadata(wire)
    # what the details do not cover counts as text; no total: the sum
    assert tokens == Tokens(prompt_audio=20, prompt_text=10, response_text=12, thinking=4, total=46)
    assert Tokens.from_metadata({"totalTokenCount": "x", "promptTokenCount": True}) == Tokens()


def test_cost_from_the_default_prices():
    meter = UsageMeter("gemini-3.8-live")
    meter.observe(report({"AUDIO": 1_000_000, "TEXT": 1_000_000}, {"AUDIO": 1_000_000}, 1_000_000))
    assert meter.end_turn().cost_usd == pytest.approx(3.00 + 0.50 + 12.00 + 2.00)
    assert meter.session.to_json()["cost_usd"] == pytest.approx(17.5)


def test_price_tables_override_per_model_over_every_model_over_the_defaults():
    tables = price_tables({"special": {"output_audio": 1}, "*": {"input_audio": 2.5}})
    assert tables["*"] == Prices(input_audio=2.5)
    assert tables["special"] == Prices(input_audio=2.5, output_audio=1.0)
    policy = UsagePolicy(prices=tables)
    assert policy.prices_for("other") == tables["*"]
    assert UsageMeter("special", policy).prices.output_audio == 1.0


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"*": {"input_sound": 1}}, "unknown field"),
        ({"*": {"input_audio": -1}}, "a number >= 0"),
        ({"*": {"input_audio": True}}, "a number >= 0"),
        ({"*": {"input_audio": float("inf")}}, "a number >= 0"),
        ({"m": 3}, "expected {field"),
    ],
)
def test_bad_price_tables_are_refused_naming_the_entry(config, problem):
    with pytest.raises(ValueError, match=problem):
        price_tables(config)


def test_a_token_budget_is_checked_on_the_session_totals():
    meter = UsageMeter("m", UsagePolicy(budget=Budget(max_tokens=100)))
    meter.observe(report({"TEXT": 60}, {"AUDIO": 40}))
    assert meter.over_budget() is None  # 100 is within
    meter.new_connection()
    meter.observe(report({"TEXT": 1}, {}))
    message = meter.over_budget()
    assert message is not None
    assert "101 tokens" in message
    assert "budget of 100 tokens" in message


def test_a_money_budget():
    meter = UsageMeter("m", UsagePolicy(budget=Budget(max_usd=0.01)))
    meter.observe(report({}, {"AUDIO": 800}))  # 800 * 12 / 1e6 = 0.0096
    assert meter.over_budget() is None
    meter.observe(report({}, {"AUDIO": 900}))
    assert "budget of $0.0100" in (meter.over_budget() or "")
    assert meter.to_json()["budget"] == {"max_tokens": None, "max_usd": 0.01}


def test_a_session_budget_is_capped_by_the_servers():
    server = Budget(max_tokens=1000, max_usd=1.0)
    assert server.capped(None, None) == server
    assert server.capped(5000, 5.0) == server  # a session cannot raise the server's
    lowered = server.capped(10, 0.5)
    assert (lowered.max_tokens, lowered.max_usd) == (10, 0.5)
    meter = UsageMeter("m", UsagePolicy(budget=lowered))
    meter.observe({"total_token_count": 11})
    assert "the session's budget_tokens option" in (meter.over_budget() or "")
    assert "c.GeminiLive.budget_usd" in (
        Budget(max_usd=0.0001).exceeded(Tokens(total=1), 1.0) or ""
    )
