"""AI-Trader position.jsonl: the six real histories, the October 2025 leaderboard, export."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from aitrader.errors import InvalidInput
from aitrader.ledger import Ledger
from aitrader.ledger.invariants import violations
from aitrader.ledger.performance import leaderboard
from aitrader.ledger.positionfile import export_model, import_folder, import_model
from aitrader.market.loader import import_price_files
from aitrader.store import Store
from tests.conftest import shared_data

MODELS = ["MiniMax-M2", "claude-3.7-sonnet", "deepseek-chat-v3.1", "gemini-2.5-flash",
          "gpt-5", "qwen3-max"]


def _final_line(path: Path, day: str) -> dict:  # type: ignore[type-arg]
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return max((x for x in lines if x["date"] <= day), key=lambda x: x["id"])


def _closes(day: str) -> dict[str, float]:
    out = {}
    for f in shared_data("nasdaq100-daily").iterdir():
        doc = json.loads(f.read_text())
        bar = doc["Time Series (Daily)"].get(day)
        if bar:
            out[doc["Meta Data"]["2. Symbol"]] = float(bar["4. close"])
    return out


@pytest.fixture
async def real_store(store: Store) -> Store:
    await import_price_files(store, [shared_data("nasdaq100-daily")])
    await import_folder(store, shared_data("ai-trader-positions"))
    return store


async def test_october_2025_leaderboard_from_the_real_data(real_store: Store) -> None:
    """Each model's value on 2025-10-30 is its final file position at the real closes, and the
    QQQ benchmark buys whole shares at the 2025-10-02 open; ranking by cumulative return."""
    board = await leaderboard(real_store, start="2025-10-01", end="2025-10-30")
    closes = _closes("2025-10-30")
    expected = {}
    for model in MODELS:
        final = _final_line(shared_data("ai-trader-positions", model, "position.jsonl"),
                            "2025-10-30")
        pos = final["positions"]
        expected[model] = pos["CASH"] + sum(n * closes[s] for s, n in pos.items()
                                            if s != "CASH" and n)
    got = {s.name: s.metrics.end_value for s in board.models}
    assert set(got) == set(MODELS)
    for model in MODELS:
        assert got[model] == pytest.approx(expected[model], abs=0.01)
        assert board.models[0].metrics.start_value == 10_000
    assert [s.name for s in board.models] == sorted(MODELS, key=lambda m: -expected[m])
    assert board.models[0].name == "deepseek-chat-v3.1"
    assert board.models[0].metrics.cumulative_return == pytest.approx(0.1389, abs=5e-5)
    qqq = json.loads(shared_data("nasdaq100-daily", "daily_prices_QQQ.json").read_text())
    series = qqq["Time Series (Daily)"]
    shares = int(10_000 // float(series["2025-10-02"]["1. open"]))
    left = 10_000 - shares * float(series["2025-10-02"]["1. open"])
    assert board.benchmark is not None
    assert board.benchmark.metrics.end_value == pytest.approx(
        left + shares * float(series["2025-10-30"]["4. close"]), abs=0.01)
    assert [p.date for p in board.benchmark.points][:2] == ["2025-10-01", "2025-10-02"]
    # beside it, QQQ's own close-to-close move over the window (from the baseline's close)
    assert board.index is not None and board.index.start == "2025-10-01"
    assert board.index.value == pytest.approx(
        float(series["2025-10-30"]["4. close"]) / float(series["2025-10-01"]["4. close"]) - 1,
        abs=1e-12)
    assert board.benchmark.metrics.periods_per_year == 252
    assert len(board.models[0].points) == 22  # the baseline and 21 October sessions
    assert not board.synthetic
    assert await violations(real_store) == []


async def test_a_day_inside_the_window_and_the_start_baseline(real_store: Store) -> None:
    """A window starting mid-month starts from the value at the previous session's close."""
    full = await leaderboard(real_store, start="2025-10-01", end="2025-10-30")
    late = await leaderboard(real_store, start="2025-10-15", end="2025-10-30")
    for s in late.models:
        whole = next(x for x in full.models if x.name == s.name)
        by_date = {p.date: p.value for p in whole.points}
        assert s.points[0].date == "2025-10-14"
        assert s.points[0].value == by_date["2025-10-14"]
        assert s.points[-1].value == by_date["2025-10-30"]


async def test_export_reproduces_the_files(real_store: Store) -> None:
    """Export gives back each day's final positions (cash rounded to 1/10,000 dollar)."""
    for model in MODELS:
        path = shared_data("ai-trader-positions", model, "position.jsonl")
        original = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        exported = [json.loads(x) for x in await export_model(real_store, model)]
        assert [x["id"] for x in exported] == list(range(len(exported)))

        def finals(lines: list) -> dict:  # type: ignore[type-arg]
            out = {}
            for x in sorted(lines, key=lambda x: x["id"]):
                out[x["date"]] = x["positions"]
            return out

        a, b = finals(original), finals(exported)
        assert a.keys() == b.keys()
        for day in a:
            assert {k: v for k, v in a[day].items() if k != "CASH"} == \
                {k: v for k, v in b[day].items() if k != "CASH"}
            assert b[day]["CASH"] == pytest.approx(a[day]["CASH"], abs=5e-5)


async def test_reimport_replaces_and_inconsistent_files_are_refused(
        real_store: Store, tmp_path: Path) -> None:
    """Importing again replaces an import; a line whose positions do not follow its action is
    refused and leaves the model as it was."""
    again = await import_folder(real_store, shared_data("ai-trader-positions"))
    assert len(again) == 6
    src = shared_data("ai-trader-positions", "gpt-5", "position.jsonl")
    lines = [json.loads(x) for x in src.read_text().splitlines() if x.strip()]
    lines[1]["positions"]["NVDA"] += 1  # a trade that does not add up
    bad = tmp_path / "gpt-5" / "position.jsonl"
    bad.parent.mkdir()
    bad.write_text("\n".join(json.dumps(x) for x in lines))
    with pytest.raises(InvalidInput, match="do not follow"):
        await import_model(real_store, "gpt-5", bad)
    board = await leaderboard(real_store, start="2025-10-01", end="2025-10-30",
                              models=["gpt-5"])
    assert board.models[0].metrics.end_value == pytest.approx(10711.49, abs=0.01)
    with pytest.raises(InvalidInput, match=r"no <model>/position\.jsonl"):
        await import_folder(real_store, tmp_path / "gpt-5")


async def test_a_folder_imports_whole_or_not_at_all(real_store: Store, tmp_path: Path) -> None:
    """Zero initial cash is refused; a folder whose second model holds a symbol without
    prices imports none of its models (one transaction), and the ledger is as it was."""
    zero = tmp_path / "zero" / "z"
    zero.mkdir(parents=True)
    (zero / "position.jsonl").write_text(json.dumps(
        {"date": "2025-10-01", "id": 0, "positions": {"CASH": 0}}))
    with pytest.raises(InvalidInput, match="the initial cash must be positive"):
        await import_folder(real_store, tmp_path / "zero")
    folder = tmp_path / "two"
    good = shared_data("ai-trader-positions", "gpt-5", "position.jsonl").read_text()
    (folder / "a-good").mkdir(parents=True)
    (folder / "a-good" / "position.jsonl").write_text(good)
    (folder / "b-bad").mkdir()
    (folder / "b-bad" / "position.jsonl").write_text("\n".join([
        json.dumps({"date": "2025-10-01", "id": 0, "positions": {"CASH": 10000}}),
        json.dumps({"date": "2025-10-02", "id": 1, "this_action": {
            "action": "buy", "symbol": "AAPL", "amount": 1},
            "positions": {"AAPL": 1, "CASH": 9700}})]))
    async with real_store.write() as conn:  # AAPL has no price on 10-02 now
        await conn.execute("DELETE FROM bars WHERE symbol = 'AAPL' AND session <= '2025-10-02'")
    with pytest.raises(InvalidInput, match="import the NASDAQ-100, daily prices first"):
        await import_folder(real_store, folder)
    async with real_store.read() as conn:
        cur = await conn.execute("SELECT COUNT(*) FROM models WHERE signature IN "
                                 "('a-good', 'b-bad')")
        assert (await cur.fetchone())[0] == 0  # type: ignore[index]


async def test_a_model_without_a_positive_start_is_named_not_ranked(real_store: Store) -> None:
    await Ledger(real_store).register_model("empty", Decimal(0), "2025-10-01")
    board = await leaderboard(real_store, start="2025-10-01", end="2025-10-30")
    assert "empty" not in {s.name for s in board.models} and len(board.models) == 6
    assert "empty has no positive value at the window's start: not ranked" in board.notes
