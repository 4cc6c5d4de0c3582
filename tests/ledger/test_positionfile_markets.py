"""The original's position histories of every market, imported as they are and exported back.

Every real history folder in ../shared/data goes through the command line a user would run:
`prices import` of the real price folders, `import-aitrader`, then `report --json` over the
history's window. Each model's cumulative return is recomputed here from the raw files alone
(the file's final positions of its last session, by the original's rule, at the raw price
files' closes of that session, over the file's starting cash), with nothing of aitrader.
"""

from __future__ import annotations

import csv
import itertools
import json
import shutil
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from aitrader import markets
from aitrader.errors import InvalidInput
from aitrader.ledger.invariants import violations
from aitrader.ledger.positionfile import (
    detect_market,
    export_model,
    import_model,
    label_of_session,
    session_of_label,
)
from aitrader.store import Store
from tests.conftest import shared_data
from tests.test_cli import run


@dataclass(frozen=True)
class History:
    folder: str
    suffix: str  # the original reused model names across markets
    market: str
    frequency: str


HISTORIES = [
    History("ai-trader-positions", "", "us", "daily"),
    History("ai-trader-positions-us-hour", "-us-hour", "us", "hourly"),
    History("ai-trader-positions-astock", "-astock", "cn", "daily"),
    History("ai-trader-positions-astock-hour", "", "cn", "hourly"),
    History("ai-trader-positions-crypto", "-crypto", "crypto", "daily"),
]
# the A-share raw tables hold the closes of 2025-11-19 that the merged files cut to the open
PRICES = ["nasdaq100-daily", "nasdaq100-hourly", "sse50-daily", "sse50-hourly",
          "sse50-daily/raw", "sse50-hourly/raw", "crypto-daily"]
IDS = [h.folder for h in HISTORIES]


# -- the raw files, read without aitrader -----------------------------------------------------

def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def files(h: History) -> dict[str, Path]:
    root = shared_data(h.folder)
    return {p.parent.name: p for p in sorted(root.glob("*/position.jsonl"))}


def finals(recs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """label -> the positions of its final record: the highest id among the label's records,
    the later line among equal ids (the original's rule, MARKETS.md)."""
    best: dict[str, tuple[int, dict[str, Any]]] = {}
    for x in recs:
        if x["date"] not in best or x["id"] >= best[x["date"]][0]:
            best[x["date"]] = (x["id"], x["positions"])
    return {label: pos for label, (_, pos) in best.items()}


def initial(recs: list[dict[str, Any]]) -> dict[str, Any]:
    return min((x for x in recs if "this_action" not in x), key=lambda x: x["id"])


def window(recs: list[dict[str, Any]]) -> tuple[str, str]:
    """The first and last trading days of the file's sessions (the initial record aside)."""
    start = initial(recs)
    labels = sorted({x["date"] for x in recs if x is not start})
    return labels[0][:10], labels[-1][:10]


def raw_closes(h: History, label: str) -> dict[str, float]:
    """Each symbol's close in the session the original labels `label`, from the raw files."""
    out: dict[str, float] = {}
    if h.market == "us":
        folder, key = (("nasdaq100-daily", "Time Series (Daily)") if h.frequency == "daily"
                       else ("nasdaq100-hourly", "Time Series (60min)"))
        for f in shared_data(folder).glob("daily_prices_*.json"):
            doc = json.loads(f.read_text())
            bar = doc[key].get(label)
            if bar:
                out[doc["Meta Data"]["2. Symbol"]] = float(bar["4. close"])
    elif h.market == "cn":  # the raw tables still hold the close the merged files cut
        if h.frequency == "daily":
            table, code, when = shared_data("sse50-daily", "raw", "daily_prices_sse_50.csv"), \
                "ts_code", label.replace("-", "")
        else:
            table, code, when = shared_data("sse50-hourly", "raw", "A_stock_hourly.csv"), \
                "stock_code", label[:16]
        with table.open(encoding="utf-8") as fh:
            out = {r[code]: float(r["close"]) for r in csv.DictReader(fh)
                   if r["trade_date"] == when}
    else:
        for f in shared_data("crypto-daily", "coin").glob("daily_prices_*.json"):
            doc = json.loads(f.read_text())
            bar = doc["Time Series (Daily)"].get(label)
            if bar:
                out[f"{doc['Meta Data']['2. Symbol']}-USDT"] = float(bar["4. close"])
    return out


# -- one database with everything, through the command line ------------------------------------

@dataclass(frozen=True)
class World:
    home: Path  # run(home, ...) uses home/cli.db
    imported: dict[str, str]  # folder -> import-aitrader's stdout

    @property
    def db(self) -> Path:
        return self.home / "cli.db"

    def copy(self, tmp_path: Path) -> Path:
        shutil.copy(self.db, tmp_path / "cli.db")
        return tmp_path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    home = tmp_path_factory.mktemp("world")
    folders = [str(shared_data(*p.split("/"))) for p in PRICES]
    done = run(home, "prices", "import", *folders)
    assert done.returncode == 0, done.stderr
    imported = {}
    for h in HISTORIES:
        out = run(home, "import-aitrader", str(shared_data(h.folder)),
                  f"--suffix={h.suffix}")
        assert out.returncode == 0, out.stderr
        imported[h.folder] = out.stdout
    return World(home, imported)


# -- the leaderboard of every market from the imported histories -------------------------------

@pytest.mark.parametrize("h", HISTORIES, ids=IDS)
def test_report_gives_each_models_return_from_the_raw_files(world: World, h: History) -> None:
    """`report --json` over the history's window: every model's cumulative return is its file's
    final positions at the raw closes of the last session, over its starting cash."""
    models = files(h)
    first = records(next(iter(models.values())))
    start, end = window(first)
    rep = run(world.home, "report", "--json", "--market", h.market, "--frequency", h.frequency,
              "--start", start, "--end", end)
    assert rep.returncode == 0, rep.stderr
    board = json.loads(rep.stdout)
    assert (board["market"], board["frequency"], board["end"]) == (h.market, h.frequency, end)
    got = {r["name"]: r for r in board["rows"] if not r["benchmark"]}
    assert set(got) == {f"{m}{h.suffix}" for m in models}
    for model, path in models.items():
        recs = records(path)
        last = max(x["date"] for x in recs)
        final = finals(recs)[last]
        closes = raw_closes(h, last)
        value = final["CASH"] + sum(n * closes[s] for s, n in final.items()
                                    if s != "CASH" and n)
        cash = initial(recs)["positions"]["CASH"]
        row = got[f"{model}{h.suffix}"]
        assert row["cumulative_return"] == pytest.approx(value / cash - 1, abs=1e-8), model
        assert row["value"] == pytest.approx(value, abs=1e-3), model
        assert row["start_value"] == cash


def test_the_import_says_what_it_read(world: World) -> None:
    """Market and frequency detected per folder, sessions per model, zero-amount records
    counted, never traded."""
    out = world.imported
    assert "gpt-5: 21 days, 45 trades from 2025-10-01 (us/daily)" in out["ai-trader-positions"]
    assert "gpt-5-us-hour: 167 sessions, 45 trades from 2025-09-30 (us/hourly)" in \
        out["ai-trader-positions-us-hour"]
    assert "gpt-5-astock-hour: 120 sessions, 418 trades from 2025-10-08 (cn/hourly)" in \
        out["ai-trader-positions-astock-hour"]
    assert "claude-3.7-sonnet-astock: 30 days, 118 trades from 2025-10-01 (cn/daily)" in \
        out["ai-trader-positions-astock"]
    assert "5 buy/sell records of amount 0" in out["ai-trader-positions-astock"]
    assert "(crypto/daily)" in out["ai-trader-positions-crypto"]
    con = sqlite3.connect(world.db)
    try:
        assert con.execute("SELECT COUNT(*) FROM trades WHERE CAST(quantity AS REAL) <= 0"
                           ).fetchone() == (0,)
        for h in HISTORIES:  # one completed session per label of the file (not the initial one)
            for model, path in files(h).items():
                recs = records(path)
                labels = {x["date"] for x in recs} - {initial(recs)["date"]}
                n = con.execute("SELECT COUNT(*) FROM attempts WHERE model = ? AND status = "
                                "'completed'", (f"{model}{h.suffix}",)).fetchone()[0]
                assert n == len(labels), model
        # without a break, the ledger's trades are the file's trades of a positive amount
        path = shared_data("ai-trader-positions-astock", "claude-3.7-sonnet", "position.jsonl")
        traded = [x for x in records(path) if x.get("this_action", {}).get("amount")
                  and x["this_action"]["action"] in ("buy", "sell")]
        assert con.execute("SELECT COUNT(*) FROM trades WHERE model = ?",
                           ("claude-3.7-sonnet-astock",)).fetchone() == (len(traded),)
        assert con.execute("SELECT market, frequency, init_date FROM models WHERE signature = ?",
                           ("qwen3-max-astock-hour",)).fetchone() == ("cn", "hourly",
                                                                      "2025-10-08")
    finally:
        con.close()


async def test_invariants_hold_for_every_imported_history(world: World, tmp_path: Path) -> None:
    async with Store(world.copy(tmp_path) / "cli.db") as store:
        assert await violations(store) == []


# -- the crypto weekend bug: reported, not repaired -------------------------------------------

def weekend_breaks(recs: list[dict[str, Any]]) -> set[str]:
    """Labels whose first record does not continue from the label before (read directly: a
    no-op that changes the positions, or a trade that moves another symbol)."""
    out = set()
    labels = sorted({x["date"] for x in recs})
    end = finals(recs)
    for before, label in itertools.pairwise(labels):
        rec = min((x for x in recs if x["date"] == label), key=lambda x: x["id"])
        act = rec["this_action"]
        prev, now = end[before], rec["positions"]
        if act["action"] == "no_trade":
            changed = prev != now
        else:
            changed = any(now[s] != prev[s] for s in now if s not in (act["symbol"], "CASH"))
        if changed:
            out.add(label)
    return out


def test_the_crypto_weekend_break_is_reported_and_kept(world: World) -> None:
    """Five of six crypto files restart on Sunday 11-09 and/or Monday 11-10 from Friday's
    holdings: each is reported, and the ledger keeps the file's positions."""
    out = world.imported["ai-trader-positions-crypto"]
    reported = {(line.split()[1], line.split()[2]) for line in out.splitlines()
                if line.strip().startswith("break:")}
    expected = set()
    for model, path in files(HISTORIES[-1]).items():
        recs = records(path)
        expected |= {(f"{model}-crypto", label) for label in weekend_breaks(recs)}
        end = finals(recs)
        for line in out.splitlines():
            if line.strip().startswith(f"break: {model}-crypto "):
                since = line.split("continues from the positions of ")[1].split(",")[0]
                # the file restarted from Friday's holdings (Saturday's, when equal)
                held = {s: n for s, n in end[since].items() if s != "CASH"}
                assert held == {s: n for s, n in end["2025-11-07"].items() if s != "CASH"}
    assert reported == expected
    assert {m for m, _ in reported} == {f"{m}-crypto" for m in (
        "MiniMax-M2", "claude-3.7-sonnet", "deepseek-chat-v3.1", "gemini-2.5-flash", "gpt-5")}
    assert {d for _, d in reported} == {"2025-11-09", "2025-11-10"}
    con = sqlite3.connect(world.db)
    try:  # the file's positions, not a repaired chain: Monday's record as the file has it
        recs = records(shared_data("ai-trader-positions-crypto", "gpt-5", "position.jsonl"))
        monday = finals(recs)["2025-11-10"]
        held = dict(con.execute("SELECT symbol, quantity FROM holdings WHERE model = ? AND "
                                "date = ?", ("gpt-5-crypto", "2025-11-10")).fetchall())
        assert {s: float(n) for s, n in held.items()} == \
            {s: n for s, n in monday.items() if s != "CASH" and n}
        note = con.execute("SELECT note FROM attempts WHERE model = ? AND date = ?",
                           ("gpt-5-crypto", "2025-11-10")).fetchone()[0]
        assert "break at id 21: continues from 2025-11-07" in note
    finally:
        con.close()


# -- export in the original's conventions, and back ---------------------------------------------

@pytest.mark.parametrize("h", HISTORIES, ids=IDS)
def test_export_gives_back_each_sessions_final_positions_with_the_originals_labels(
        world: World, h: History, tmp_path: Path) -> None:
    """`export-aitrader --market --frequency`: every label of the original (its initial record's
    too: 10:00 New York, 08:30 Beijing), each label's final positions, the original's action
    names; and importing the export gives the same ledger back."""
    out = tmp_path / "out"
    exp = run(world.home, "export-aitrader", str(out), "--market", h.market, "--frequency",
              h.frequency)
    assert exp.returncode == 0, exp.stderr
    names = {"crypto": {"buy_crypto", "sell_crypto", "no_trade"}}.get(
        h.market, {"buy", "sell", "no_trade"})
    for model, path in files(h).items():
        original = records(path)
        exported = records(out / f"{model}{h.suffix}" / "position" / "position.jsonl")
        assert [x["id"] for x in exported] == list(range(len(exported)))
        assert exported[0]["date"] == initial(original)["date"]
        assert {x["this_action"]["action"] for x in exported[1:]} <= names
        a, b = finals(original), finals(exported)
        assert list(a) == list(b)  # the same labels in the same order
        for label in a:
            assert {k: v for k, v in a[label].items() if k != "CASH"} == \
                {k: v for k, v in b[label].items() if k != "CASH"}, (model, label)
            assert b[label]["CASH"] == pytest.approx(a[label]["CASH"], abs=5e-5)
    # the export imports back to the same ledger (the breaks are now explicit trades)
    home = world.copy(tmp_path)
    again = run(home, "import-aitrader", str(out))
    assert again.returncode == 0, again.stderr
    assert "break:" not in again.stdout
    assert f"({h.market}/{h.frequency})" in again.stdout

    def book(db: Path) -> list[tuple[Any, ...]]:
        con = sqlite3.connect(db)
        try:
            sigs = tuple(f"{m}{h.suffix}" for m in files(h))
            marks = ",".join("?" * len(sigs))
            return con.execute(
                f"SELECT e.model, e.date, e.cash, e.value, group_concat(h.symbol || '=' || "
                f"h.quantity) FROM eod e LEFT JOIN holdings h ON h.model = e.model AND "
                f"h.date = e.date WHERE e.model IN ({marks}) GROUP BY e.model, e.date "
                f"ORDER BY e.model, e.date", sigs).fetchall()
        finally:
            con.close()

    assert book(home / "cli.db") == book(world.db)


def test_export_of_a_ledger_of_several_markets_names_one(world: World, tmp_path: Path) -> None:
    every = run(world.home, "export-aitrader", str(tmp_path))
    assert every.returncode == 2 and "several markets" in every.stderr
    assert "--market" in every.stderr
    odd = run(world.home, "export-aitrader", str(tmp_path), "--market", "cn", "--model", "gpt-5")
    assert odd.returncode == 2 and "gpt-5 trades us/daily, not cn" in odd.stderr
    one = run(world.home, "export-aitrader", str(tmp_path), "--model", "gpt-5-crypto")
    assert one.returncode == 0, one.stderr
    line = json.loads((tmp_path / "gpt-5-crypto" / "position" / "position.jsonl")
                      .read_text().splitlines()[1])
    assert line["date"] == "2025-11-02" and line["this_action"] == {
        "action": "buy_crypto", "symbol": "BTC-USDT", "amount": 0.1352}
    assert list(line["positions"])[:3] == ["BTC-USDT", "ETH-USDT", "XRP-USDT"]
    assert line["positions"]["ETH-USDT"] == 0.0


# -- labels, detection, and the files an importer must refuse -----------------------------------

@pytest.mark.parametrize(("market", "frequency", "label", "session"), [
    ("us", "hourly", "2025-10-31 10:00:00", "2025-10-31T10:00:00-04:00"),
    ("us", "hourly", "2025-11-03 15:00:00", "2025-11-03T15:00:00-05:00"),
    ("cn", "hourly", "2025-10-09 10:30:00", "2025-10-09T09:30:00+08:00"),  # bar END, Beijing
    ("cn", "hourly", "2025-10-09 11:30:00", "2025-10-09T10:30:00+08:00"),
    ("cn", "hourly", "2025-10-09 14:00:00", "2025-10-09T13:00:00+08:00"),
    ("cn", "hourly", "2025-10-09 15:00:00", "2025-10-09T14:00:00+08:00"),
    ("crypto", "hourly", "2025-11-02 13:00:00", "2025-11-02T13:00:00+00:00"),
    ("crypto", "daily", "2025-11-08", "2025-11-08"),  # a Saturday is a session
    ("cn", "daily", "2025-10-09", "2025-10-09"),
])
def test_labels_become_session_ids_and_back(market: str, frequency: str, label: str,
                                            session: str) -> None:
    m = markets.get(market, frequency)
    found = session_of_label(m, label)
    assert found is not None and found.id == session
    assert label_of_session(m, session) == label
    assert session_of_label(m, session) == found  # a session id is read as well


@pytest.mark.parametrize(("market", "frequency", "label"), [
    ("cn", "hourly", "2025-10-09 09:30:00"),  # the end of no bar
    ("cn", "hourly", "2025-10-09 13:00:00"),  # lunch
    ("us", "hourly", "2025-10-31 09:30:00"),
    ("cn", "daily", "2025-10-01"),  # National Day holiday
    ("us", "daily", "2025-10-31 10:00:00"),
])
def test_labels_that_are_no_session(market: str, frequency: str, label: str) -> None:
    assert session_of_label(markets.get(market, frequency), label) is None


def _doc(date: str, n: int, positions: dict[str, Any], action: Any = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"date": date, "id": n}
    if action:
        doc["this_action"] = dict(zip(("action", "symbol", "amount"), action, strict=True))
    doc["positions"] = positions
    return doc


def test_detection_from_symbols_and_labels() -> None:
    def found(*docs: dict[str, Any], **given: str) -> str:
        return detect_market(docs, "m", **given).label

    assert found(_doc("2025-10-01", 0, {"AAPL": 0, "CASH": 1})) == "us/daily"
    assert found(_doc("2025-10-09 08:30:00", 0, {"600519.SH": 0, "CASH": 1})) == "cn/hourly"
    assert found(_doc("2025-11-01", 0, {"BTC-USDT": 0.0, "CASH": 1})) == "crypto/daily"
    assert found(_doc("2025-11-01", 0, {"CASH": 1})) == "us/daily"
    assert found(_doc("2025-11-01", 0, {"CASH": 1}), market="crypto") == "crypto/daily"
    with pytest.raises(InvalidInput, match="several markets"):
        found(_doc("2025-10-01", 0, {"AAPL": 0, "600519.SH": 0, "CASH": 1}))
    with pytest.raises(InvalidInput, match="mixes dates and hourly labels"):
        found(_doc("2025-10-01", 0, {"AAPL": 0, "CASH": 1}),
              _doc("2025-10-02 10:00:00", 1, {"AAPL": 0, "CASH": 1}))
    with pytest.raises(InvalidInput, match="symbols are of the cn market, not us"):
        found(_doc("2025-10-09", 0, {"600519.SH": 0, "CASH": 1}), market="us")
    with pytest.raises(InvalidInput, match="dates are daily labels, not hourly"):
        found(_doc("2025-10-09", 0, {"600519.SH": 0, "CASH": 1}), frequency="hourly")


def test_a_folder_mixing_markets_or_a_wrong_market_is_refused(world: World,
                                                               tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    for folder, model in (("ai-trader-positions", "gpt-5"),
                          ("ai-trader-positions-astock", "MiniMax-M2")):
        (mixed / model).mkdir(parents=True)
        shutil.copy(shared_data(folder, model, "position.jsonl"), mixed / model)
    home = world.copy(tmp_path)
    bad = run(home, "import-aitrader", str(mixed))
    assert bad.returncode == 2
    assert "mixed mixes markets (MiniMax-M2/position.jsonl is cn/daily, gpt-5/position.jsonl " \
        "is us/daily)" in bad.stderr
    wrong = run(home, "import-aitrader", str(shared_data("ai-trader-positions-crypto")),
                "--market", "us", "--suffix=-x")
    assert wrong.returncode == 2 and "symbols are of the crypto market, not us" in wrong.stderr
    hourly = run(home, "import-aitrader", str(shared_data("ai-trader-positions-astock")),
                 "--frequency", "hourly", "--suffix=-x")
    assert hourly.returncode == 2 and "not hourly" in hourly.stderr
    # the original reused model names across markets: another market's import is not replaced
    clash = run(home, "import-aitrader", str(shared_data("ai-trader-positions-astock")))
    assert clash.returncode == 2
    assert "model MiniMax-M2 already exists (us/daily, imported)" in clash.stderr
    con = sqlite3.connect(home / "cli.db")
    try:
        assert con.execute("SELECT COUNT(*) FROM models WHERE signature LIKE '%-x'"
                           ).fetchone() == (0,)
        assert con.execute("SELECT market FROM models WHERE signature = 'MiniMax-M2'"
                           ).fetchone() == ("us",)
    finally:
        con.close()


async def test_ids_restarting_zero_amounts_and_a_break(world: World, tmp_path: Path) -> None:
    """A session's final state is its highest id (the later line among equal ids), whatever
    the file order; an amount of 0 is no trade; a record continuing from an earlier session's
    positions is a break: reported, kept, and the ledger undoes what the file lost."""
    coin = {"BTC-USDT": 0.0, "ETH-USDT": 0.0}
    lines = [
        _doc("2025-11-01", 0, {**coin, "CASH": 50000.0}),
        _doc("2025-11-02", 1, {**coin, "BTC-USDT": 0.1, "CASH": 40000.0},
             ("buy_crypto", "BTC-USDT", 0.1)),
        _doc("2025-11-02", 2, {**coin, "BTC-USDT": 0.1, "CASH": 40000.0},
             ("buy_crypto", "ETH-USDT", 0)),
        _doc("2025-11-03", 4, {**coin, "BTC-USDT": 0.03, "CASH": 46000.0},
             ("sell_crypto", "BTC-USDT", 0.05)),  # written before id 3
        _doc("2025-11-03", 3, {**coin, "BTC-USDT": 0.08, "CASH": 42000.0},
             ("sell_crypto", "BTC-USDT", 0.02)),
        _doc("2025-11-04", 3, {**coin, "BTC-USDT": 0.03, "CASH": 46000.0},
             ("no_trade", "", 0)),  # the id restarts
        _doc("2025-11-05", 5, {**coin, "BTC-USDT": 0.1, "ETH-USDT": 1.0, "CASH": 36000.0},
             ("buy_crypto", "ETH-USDT", 1.0)),  # from 11-02's positions: 11-03 is lost
    ]
    path = tmp_path / "position.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    async with Store(world.copy(tmp_path) / "cli.db") as store:
        done = await import_model(store, "toy", path)
        assert (done.market, done.frequency, done.days, done.trades, done.noops) == (
            "crypto", "daily", 4, 4, 1)
        (brk,) = done.breaks
        assert (brk.session, brk.record_id, brk.restarts_from, brk.lost, brk.undone) == (
            "2025-11-05", 5, "2025-11-02", ("2025-11-03",), 2)
        assert "2025-11-03 are lost in the file" in str(brk)
        async with store.read() as conn:
            cur = await conn.execute("SELECT date, cash FROM eod WHERE model = 'toy' "
                                     "ORDER BY date")
            assert [(d, Decimal(c)) for d, c in await cur.fetchall()] == [
                ("2025-11-02", Decimal(40000)), ("2025-11-03", Decimal(46000)),
                ("2025-11-04", Decimal(46000)), ("2025-11-05", Decimal(36000))]
            cur = await conn.execute("SELECT date, action, symbol, quantity, total FROM trades "
                                     "WHERE model = 'toy' ORDER BY id")
            assert [tuple(r) for r in await cur.fetchall()] == [
                ("2025-11-02", "buy", "BTC-USDT", "0.1", "10000"),
                ("2025-11-03", "sell", "BTC-USDT", "0.02", "2000"),
                ("2025-11-03", "sell", "BTC-USDT", "0.05", "4000"),
                ("2025-11-05", "buy", "BTC-USDT", "0.05", "4000"),  # 11-03 undone
                ("2025-11-05", "buy", "BTC-USDT", "0.02", "2000"),
                ("2025-11-05", "buy", "ETH-USDT", "1", "4000")]
        assert await violations(store, "toy") == []
        exported = [json.loads(x) for x in await export_model(store, "toy")]
        last = finals(exported)["2025-11-05"]  # the whole universe, zeros included
        assert len(last) == 11
        assert {s: n for s, n in last.items() if n} == {"BTC-USDT": 0.1, "ETH-USDT": 1.0,
                                                        "CASH": 36000.0}
        # a record that follows from nothing before it is refused, and nothing is written
        lines[-1]["positions"]["BTC-USDT"] = 0.2
        path.write_text("\n".join(json.dumps(x) for x in lines))
        with pytest.raises(InvalidInput, match="id 5: positions do not follow"):
            await import_model(store, "toy2", path)
        async with store.read() as conn:
            cur = await conn.execute("SELECT COUNT(*) FROM models WHERE signature = 'toy2'")
            assert tuple(await cur.fetchone() or ()) == (0,)
