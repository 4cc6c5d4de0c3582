"""The `aitrader` command: parse arguments, call the library, print for a person."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aitrader import __version__, logs, markets, priority
from aitrader.errors import AITraderError, InvalidInput
from aitrader.market.calendar import nyse, parse_date
from aitrader.settings import Settings
from aitrader.store import Store

# Not a terminal (a pipe, CI): wide enough that the leaderboard's columns are not cut.
console = Console() if sys.stdout.isatty() else Console(width=160)
err = Console(stderr=True, soft_wrap=True, highlight=False)  # one line per message


async def _with_store(settings: Settings, *, readonly: bool = False) -> Store:
    """The database; `readonly` for the commands that only read: the file must exist, and
    nothing (not even its folder) is created."""
    store = Store(settings.db_path, readonly=readonly,
                  busy_timeout_ms=settings.db_busy_timeout_ms)
    await store.open()
    return store


# -- prices ---------------------------------------------------------------------------------

async def cmd_prices_demo(settings: Settings, args: argparse.Namespace) -> int:
    from aitrader.market import demo
    from aitrader.market.prices import Feed, upsert_bars

    market = markets.get(args.market, args.frequency)
    start = parse_date(args.start, field="--start") if args.start else date(2025, 1, 2)
    end = parse_date(args.end, field="--end") if args.end else \
        market.schedule.calendar().last_closed()
    store = await _with_store(settings)
    try:
        bars = list(demo.generate(market, start, end, seed=args.seed or settings.demo_seed))
        n = await upsert_bars(store, Feed(market.key, market.frequency), bars)
    finally:
        await store.close()
    console.print(f"wrote {n:,} bars of the {demo.LABEL} for {market.title}: "
                  f"{len(demo.series(market))} symbols, {start} to {end}")
    return 0


async def cmd_prices_import(settings: Settings, args: argparse.Namespace) -> int:
    from aitrader.market.loader import import_price_files

    store = await _with_store(settings)
    try:
        summary = await import_price_files(store, [Path(p) for p in args.paths])
    finally:
        await store.close()
    console.print(f"imported {summary.bars:,} bars of {len(summary.symbols)} symbols")
    for line in summary.rejected:
        err.print(f"rejected: {line}")
    if summary.skipped:
        err.print(f"skipped {len(summary.skipped)} days: " + "; ".join(summary.skipped[:5])
                  + (" ..." if len(summary.skipped) > 5 else ""))
    return 1 if summary.rejected and not summary.symbols else 0


async def cmd_prices_fetch(settings: Settings, args: argparse.Namespace) -> int:
    import aiohttp

    from aitrader.market.alphavantage import CN_IMPORT_HINT, AlphaVantageFetcher
    from aitrader.market.symbols import ALL_SYMBOLS, normalise

    market = markets.get(args.market, args.frequency)
    if market.key == "cn":
        raise InvalidInput(CN_IMPORT_HINT, field="market")
    us_daily = market.label == "us/daily"
    if args.end and us_daily:
        raise InvalidInput("--end is for hourly and crypto fetches: a daily US fetch always "
                           "brings the symbols up to the latest closed session", field="--end")
    if args.quote and market.key != "crypto":
        raise InvalidInput("--quote is for --market crypto", field="--quote")
    start = parse_date(args.start, field="--start") if args.start else None
    end = parse_date(args.end, field="--end") if args.end else None
    if start and end and start > end:
        raise InvalidInput(f"--start {start} is after --end {end}", field="--start")
    if us_daily:
        symbols = [normalise(s) for s in args.symbols] if args.symbols else list(ALL_SYMBOLS)
    else:
        symbols = ([market.normalise(s) for s in args.symbols] if args.symbols else
                   list(dict.fromkeys((*market.universe, *market.benchmark.constituents()))))
    store = await _with_store(settings)
    try:
        async with aiohttp.ClientSession() as http:
            fetcher = AlphaVantageFetcher(
                store, http, api_key=settings.alphavantage_api_key,
                calendar=nyse() if us_daily else None, market=market,
                history_start=start, end=end, crypto_market=args.quote or "USD")
            with Progress(TextColumn("{task.description}"), BarColumn(),
                          MofNCompleteColumn(), TimeElapsedColumn(), console=err) as bar:
                task = bar.add_task("Alpha Vantage", total=None)

                def planned(n: int) -> None:
                    bar.update(task, total=n)

                def advanced(result: Any) -> None:
                    bar.update(task, advance=1, description=f"{result.label} {result.outcome}")

                summary = await fetcher.fetch(symbols, on_progress=advanced, on_plan=planned)
    finally:
        await store.close()
    of = "" if us_daily else f", {market.label}"
    table = Table(title=f"Alpha Vantage fetch{of} (latest session {summary.latest_session})")
    for col in ("outcome", "symbols", "new bars", "note"):
        table.add_column(col)
    outcomes: dict[str, list[Any]] = {}
    for r in summary.results:
        outcomes.setdefault(r.outcome, []).append(r)
    for outcome, rs in outcomes.items():
        names = ", ".join(r.label for r in rs)
        what = "requests" if any(r.part for r in rs) else "symbols"
        table.add_row(outcome, names if len(names) < 60 else f"{len(rs)} {what}",
                      str(sum(r.new_bars for r in rs)), next((r.message for r in rs
                                                              if r.message), "")[:80])
    console.print(table)
    if summary.quota_hit:
        err.print("The Alpha Vantage quota was reached: the symbols marked rate_limited were "
                  "not fetched. Run the same command again later; it asks only for what is "
                  "still missing.")
        return 3
    return 0 if not any(r.outcome in ("failed", "invalid") for r in summary.results) else 1


async def cmd_prices_status(settings: Settings, args: argparse.Namespace) -> int:
    from aitrader.market.status import price_status

    store = await _with_store(settings, readonly=True)
    try:
        st = await price_status(store, markets.get(args.market, args.frequency))
    finally:
        await store.close()
    out = err if args.json else console  # with --json, stdout carries the JSON alone
    if st.first is None:
        out.print("no prices yet: run `aitrader prices demo`, `aitrader prices import` or "
                  "`aitrader prices fetch`")
        return 1
    label = " [bold yellow](includes the synthetic demo market)[/]" if st.synthetic else ""
    out.print(f"{args.market}/{args.frequency}: {len(st.symbols)} symbols, {st.first} to "
              f"{st.last}{label}")
    if st.absent:
        out.print(f"no data for: {', '.join(st.absent)}")
    if st.with_gaps:
        table = Table(title="symbols with gaps")
        for col in ("symbol", "first", "last", "bars", "missing sessions", "note"):
            table.add_column(col)
        for s in st.with_gaps:
            note = ", ".join(filter(None, [
                "ends early" if s.ends_early else "",
                "not in the trading universe" if not s.in_universe else ""]))
            miss = ", ".join(s.missing[:4]) + (f" (+{len(s.missing) - 4})"
                                                if len(s.missing) > 4 else "")
            table.add_row(s.symbol, s.first, s.last, str(s.bars), miss or "-", note)
        out.print(table)
    else:
        out.print("no gaps")
    if args.json:
        print(json.dumps({"first": st.first, "last": st.last, "symbols": len(st.symbols),
                          "absent": list(st.absent), "synthetic": st.synthetic,
                          "gaps": {s.symbol: {"missing": list(s.missing),
                                              "ends_early": s.ends_early}
                                   for s in st.with_gaps}}))
    return 0


# -- ledger ---------------------------------------------------------------------------------

async def cmd_import_aitrader(settings: Settings, args: argparse.Namespace) -> int:
    from aitrader.ledger.positionfile import import_folder

    store = await _with_store(settings)
    try:
        done = await import_folder(store, Path(args.dir), replace=args.replace,
                                   market=args.market, frequency=args.frequency,
                                   suffix=args.suffix or "")
    finally:
        await store.close()

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    for m in done:
        unit = "days" if m.frequency == "daily" else "sessions"
        say(f"{m.model}: {m.days} {unit}, {m.trades} trades from {m.init_date} "
            f"({m.market}/{m.frequency})")
        if m.noops:
            say(f"  {m.noops} buy/sell records of amount 0: kept as sessions without a trade")
        if m.rounded:
            say(f"  {m.rounded} trades moved the holdings by their amount rounded to 4 places "
                "(as the file's holdings have it)")
        for b in m.breaks:
            say(f"  break: {b}")
    breaks = sum(len(m.breaks) for m in done)
    if breaks:
        err.print(f"{breaks} breaks in the files: imported as the files have them, not repaired")
    return 0


async def cmd_export_aitrader(settings: Settings, args: argparse.Namespace) -> int:
    from aitrader.ledger import Ledger
    from aitrader.ledger.positionfile import export_model, market_of_model

    if args.frequency and not args.market:
        raise InvalidInput("--frequency needs --market", field="--market")
    store = await _with_store(settings, readonly=True)
    try:
        every = await Ledger(store).signatures()
        for model in args.model or ():
            if model not in every:
                raise InvalidInput(f"there is no model {model!r} in the ledger", field="--model")
        kinds = {m: (await market_of_model(store, m)).label for m in args.model or every}
        if args.market:
            wanted = f"{args.market}/{args.frequency}" if args.frequency else f"{args.market}/"
            chosen = {m: k for m, k in kinds.items() if k.startswith(wanted)}
            if args.model and len(chosen) < len(kinds):
                odd = next(m for m in kinds if m not in chosen)
                raise InvalidInput(f"model {odd} trades {kinds[odd]}, not {wanted.rstrip('/')}",
                                   field="--model")
            if not chosen:
                raise InvalidInput(f"no {wanted.rstrip('/')} models in the ledger",
                                   field="--market")
            kinds = chosen
        if len(set(kinds.values())) > 1:
            raise InvalidInput(
                f"the models trade several markets ({', '.join(sorted(set(kinds.values())))})"
                ": export one with --market and --frequency, each into its own folder",
                field="--market")
        for model, kind in kinds.items():
            lines = await export_model(store, model)
            path = Path(args.dir) / model / "position" / "position.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            console.print(f"{model}: {len(lines)} lines -> {path} ({kind})", markup=False,
                          highlight=False, soft_wrap=True)
    finally:
        await store.close()
    return 0


async def cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    from aitrader.ledger.performance import leaderboard
    from aitrader.report import leaderboard_json, leaderboard_table

    start = parse_date(args.start, field="--start").isoformat() if args.start else None
    end = parse_date(args.end, field="--end").isoformat() if args.end else None
    if start and end and end < start:
        raise InvalidInput(f"--end {end} is before --start {start}", field="--end")
    market = markets.get(args.market, args.frequency or "daily") if args.market else None
    if args.frequency and not args.market:
        raise InvalidInput("--frequency needs --market", field="--market")
    store = await _with_store(settings, readonly=True)
    try:
        board = await leaderboard(store, market, start=start, end=end)
    finally:
        await store.close()
    if args.json:
        print(json.dumps(leaderboard_json(board)))
        return 0
    console.print(leaderboard_table(board))
    return 0


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    import sqlite3

    from aitrader.errors import InvalidInput
    from aitrader.store.db import backup

    dest = Path(args.dest)
    if not settings.db_path.exists():
        raise InvalidInput(f"there is no database at {settings.db_path}", field="db")
    try:
        backup(settings.db_path, dest)
    except FileExistsError:
        raise InvalidInput(f"{dest} exists: a backup goes to a new file", field="dest") \
            from None
    except (sqlite3.Error, OSError) as exc:
        dest.unlink(missing_ok=True)
        raise AITraderError(f"the backup failed: {exc}") from None
    console.print(f"backed up {settings.db_path} to {dest} ({dest.stat().st_size:,} bytes, "
                  "integrity ok)", highlight=False)
    return 0


async def cmd_ledger_check(settings: Settings, args: argparse.Namespace) -> int:
    from aitrader.ledger import Ledger
    from aitrader.ledger.invariants import violations

    store = await _with_store(settings, readonly=True)
    try:
        if args.model and args.model not in await Ledger(store).signatures():
            raise InvalidInput(f"there is no model {args.model!r} in the ledger",
                               field="--model")
        problems = await violations(store, args.model)
    finally:
        await store.close()
    for line in problems:
        err.print(line)
    console.print("ledger invariants hold" if not problems
                  else f"{len(problems)} ledger invariant violations")
    return 1 if problems else 0


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from aitrader.runner import run_simulation

    start = parse_date(args.start, field="--start").isoformat() if args.start else None
    end = parse_date(args.end, field="--end").isoformat() if args.end else None
    return await run_simulation(settings, Path(args.config), start=start, end=end,
                                console=console)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp import web

    from aitrader.api.app import create_app
    from aitrader.priority import ServingLoop
    from aitrader.tools.ports import listening_socket

    logs.configure(level="INFO")
    sock = listening_socket(settings.api_host, settings.api_port, setting="API_PORT")
    web.run_app(create_app(settings), sock=sock, print=None, shutdown_timeout=30,
                loop=ServingLoop())
    return 0


async def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from aitrader.demo import config_name, run_demo

    end = parse_date(args.end, field="--end").isoformat() if args.end else None
    return await run_demo(settings, console, end=end,
                          config=config_name(args.market, args.frequency))


async def cmd_prepare(settings: Settings, args: argparse.Namespace) -> int:
    from aitrader.prepare import prepare

    return await prepare(settings, console)


async def cmd_mcp(settings: Settings, args: argparse.Namespace) -> int:
    from aitrader.tools.launcher import Watch, run_forever

    return await run_forever(settings, Watch(
        log_dir=Path(args.log_dir) if args.log_dir else None,
        pid_dir=Path(args.pid_dir) if args.pid_dir else None,
        ready_file=Path(args.ready_file) if args.ready_file else None,
        startup_timeout=args.startup_timeout, max_restarts=args.max_restarts))


# -- wiring ---------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    # --db may come before the command or after it (a parent of every command's parser; its
    # default is left to the top level, so a later omission does not undo an earlier --db)
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--db", default=argparse.SUPPRESS, metavar="PATH",
                    help="the database file (default: $AITRADER_DB or data/aitrader.db)")
    p = argparse.ArgumentParser(prog="aitrader", description=__doc__, parents=[db])
    p.add_argument("--version", action="version", version=f"aitrader {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(parent: Any, name: str, text: str, func: Any, *,
                sync: bool = False) -> argparse.ArgumentParser:
        cmd: argparse.ArgumentParser = parent.add_parser(name, help=text, description=text,
                                                         parents=[db])
        cmd.set_defaults(func=func, sync=sync)
        return cmd

    prices = sub.add_parser("prices", help="market data", description="market data") \
        .add_subparsers(dest="prices_cmd", required=True, metavar="COMMAND")
    d = command(prices, "demo", "generate the synthetic demo market", cmd_prices_demo)
    d.add_argument("--start", metavar="DATE", help="first date (default 2025-01-02)")
    d.add_argument("--end", metavar="DATE",
                   help="last date (default: the market's most recent closed session)")
    d.add_argument("--market", choices=markets.KNOWN, default="us",
                   help="which market (default us: NASDAQ-100)")
    d.add_argument("--frequency", choices=markets.FREQUENCIES, default="daily",
                   help="daily or hourly bars (default daily)")
    d.add_argument("--seed", type=int, help="generator seed (default $AITRADER_DEMO_SEED)")
    i = command(prices, "import", "import Alpha Vantage JSON or AI-Trader merged.jsonl",
                cmd_prices_import)
    i.add_argument("paths", nargs="+", metavar="PATH",
                   help="files or folders of Alpha Vantage TIME_SERIES_DAILY JSON, or "
                   "AI-Trader merged.jsonl")
    f = command(prices, "fetch", "fetch missing bars from Alpha Vantage (needs a key)",
                cmd_prices_fetch)
    f.add_argument("--market", choices=markets.KNOWN, default="us",
                   help="us (NASDAQ-100, default) or crypto; cn is not fetched, it says how "
                   "A-share data is imported")
    f.add_argument("--frequency", choices=markets.FREQUENCIES, default="daily",
                   help="daily (default) or hourly bars")
    f.add_argument("--symbols", nargs="+", metavar="SYMBOL",
                   help="only these symbols (default: the market's universe, and QQQ for us)")
    f.add_argument("--start", metavar="DATE",
                   help="history wanted from this date (us daily: for symbols with none; "
                   "hourly and crypto: gaps after it are filled too)")
    f.add_argument("--end", metavar="DATE",
                   help="hourly and crypto: last date wanted (default: the latest closed "
                   "session)")
    f.add_argument("--quote", choices=("USD", "USDT"),
                   help="crypto: the Alpha Vantage market of the quotes (default USD, used "
                   "as USDT; the original's hourly files are USDT, which lacks SUI and LTC)")
    s = command(prices, "status", "symbols, date span and gaps of one market's feed",
                cmd_prices_status)
    s.add_argument("--market", choices=markets.KNOWN, default="us",
                   help="the market (default us)")
    s.add_argument("--frequency", choices=markets.FREQUENCIES, default="daily",
                   help="daily or hourly (default daily)")
    s.add_argument("--json", action="store_true",
                   help="print JSON on stdout only (the tables go to stderr)")

    ia = command(sub, "import-aitrader", "import AI-Trader position.jsonl histories of any "
                 "market", cmd_import_aitrader)
    ia.add_argument("dir", help="DIR/<model>/position.jsonl or "
                    "DIR/<model>/position/position.jsonl (one market and frequency)")
    ia.add_argument("--replace", action="store_true",
                    help="overwrite models of the same name that were not imported, or were "
                    "imported for another market or frequency")
    ia.add_argument("--market", choices=markets.KNOWN,
                    help="the files' market (default: detected from their symbols; given, the "
                    "files must match it)")
    ia.add_argument("--frequency", choices=markets.FREQUENCIES,
                    help="daily or hourly (default: detected from the files' dates)")
    ia.add_argument("--suffix", metavar="TEXT", default="",
                    help="import <model> as the signature <model>TEXT (the original reused "
                    "model names across markets, e.g. --suffix=-astock)")
    ea = command(sub, "export-aitrader", "write <model>/position/position.jsonl files in the "
                 "original's conventions of each model's market", cmd_export_aitrader)
    ea.add_argument("dir", help="the folder to write into")
    ea.add_argument("--model", nargs="+", metavar="SIGNATURE",
                    help="only these models (default: every model of the market)")
    ea.add_argument("--market", choices=markets.KNOWN,
                    help="only models of this market (needed when the ledger holds several)")
    ea.add_argument("--frequency", choices=markets.FREQUENCIES, help="with --market")
    lc = sub.add_parser("ledger", help="the ledger", description="the ledger") \
        .add_subparsers(dest="ledger_cmd", required=True, metavar="COMMAND")
    chk = command(lc, "check", "recompute every invariant from the trades", cmd_ledger_check)
    chk.add_argument("--model", metavar="SIGNATURE", help="only this model")
    bk = command(sub, "backup", "copy the database to a new file, safely while the service "
                 "runs", cmd_backup, sync=True)
    bk.add_argument("dest", help="the new file")
    r = command(sub, "report", "leaderboard of one market with its benchmark and index",
                cmd_report)
    r.add_argument("--market", choices=markets.KNOWN,
                   help="the market (default: the models' own, when they share one)")
    r.add_argument("--frequency", choices=markets.FREQUENCIES, help="with --market "
                   "(default daily)")
    r.add_argument("--start", metavar="DATE", help="first session of the window")
    r.add_argument("--end", metavar="DATE", help="last session of the window")
    r.add_argument("--json", action="store_true", help="print JSON on stdout only")
    rn = command(sub, "run", "run a simulation to completion, then the leaderboard", cmd_run)
    rn.add_argument("config", nargs="?", default="configs/default_config.json",
                    help="a config file, anywhere (default: configs/default_config.json)")
    rn.add_argument("--start", metavar="DATE",
                    help="first date (default: catch up from each model's last day)")
    rn.add_argument("--end", metavar="DATE",
                    help="last date (default: the latest trading day with data)")
    command(sub, "serve", "the HTTP service (API_HOST:API_PORT, default 0.0.0.0:8080)",
            cmd_serve, sync=True)
    dm = command(sub, "demo", "the whole stack on the demo market, driven over HTTP and the "
                 "WebSocket; runs until Ctrl-C", cmd_demo)
    dm.add_argument("--end", metavar="DATE",
                    help="simulate up to this date (default: the latest session)")
    dm.add_argument("--market", choices=markets.KNOWN, default="us",
                    help="which market (default us); each runs configs/demo_<market>_"
                         "<frequency>.json (us daily: default_config.json)")
    dm.add_argument("--frequency", choices=markets.FREQUENCIES, default="daily",
                    help="daily or hourly sessions (default daily)")
    command(sub, "prepare", "check the settings and the default config, and generate the "
            "demo market if it is used (the container runs it first)", cmd_prepare)
    m = command(sub, "mcp", "run the four tool servers until Ctrl-C, restarting one that "
                "dies", cmd_mcp)
    m.add_argument("--log-dir", metavar="DIR", help="append each server's output to "
                   "DIR/<name>.log (default: this terminal)")
    m.add_argument("--pid-dir", metavar="DIR", help="keep each server's pid in DIR/<name>.pid")
    m.add_argument("--ready-file", metavar="FILE",
                   help="create this file once every server is up")
    m.add_argument("--startup-timeout", type=float, default=60.0, metavar="SECONDS",
                   help="seconds to wait for the servers at start (default 60)")
    m.add_argument("--max-restarts", type=int, default=5, metavar="N",
                   help="restarts of a server that dies, before giving up (default 5)")
    return p


RESUMABLE = {"run": "run the same command again: it resumes the job where it stopped",
             "demo": "run it again: the service resumes the job where it stopped"}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(level="INFO" if args.command == "mcp" else "WARNING")
    try:
        settings = Settings.from_env()
        if getattr(args, "db", None):  # before or after the command
            import attrs

            settings = attrs.evolve(settings, db_path=Path(args.db))
        if args.sync:
            return int(args.func(settings, args))
        return int(priority.run(args.func(settings, args)))
    except AITraderError as exc:
        err.print(f"error: {exc.message}")
        return 2
    except OSError as exc:  # a folder that cannot be made, a file that cannot be read
        where = f": {exc.filename}" if exc.filename else ""
        err.print(f"error: {exc.strerror or exc}{where}")
        return 2
    except KeyboardInterrupt:
        if args.command in RESUMABLE:
            err.print(f"stopped: every completed model-day is kept; {RESUMABLE[args.command]}",
                      highlight=False)
        return 130


if __name__ == "__main__":
    sys.exit(main())
