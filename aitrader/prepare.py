"""`aitrader prepare`: what a fresh start checks and sets up before the tool servers and the
service start (the container's entrypoint runs it).

It fails fast, naming every missing or wrong setting at once, instead of letting the service
start and fail its first job: the data folder must be writable, the default config must load,
every enabled model must pass the check a trigger makes (`check_model`: a known class, and
an API key for an LLM model), and a `database` market needs prices. On the demo market it
generates the synthetic prices, so the default works with no keys at all.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from datetime import date

from rich.console import Console

from aitrader.agent.factory import check_model
from aitrader.config import load_config
from aitrader.errors import AITraderError
from aitrader.market import demo
from aitrader.market.prices import latest_trading_day
from aitrader.settings import Settings
from aitrader.store import Store

DEFAULT_CONFIG = "default_config.json"


def _writable(settings: Settings) -> str | None:
    folder = settings.db_path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return (f"the database folder {folder} is not writable by uid {os.getuid()} "
                f"({exc.strerror}): set AITRADER_DATA_DIR / AITRADER_DB, or give that uid the "
                "folder")
    return None


async def prepare(settings: Settings, console: Console,
                  env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    problems: list[str] = []
    if (msg := _writable(settings)) is not None:
        problems.append(msg)
    path = settings.configs_dir / DEFAULT_CONFIG
    try:
        config = load_config(path)
    except AITraderError as exc:
        problems.append(f"the default config cannot be used: {exc.message} (AITRADER_CONFIGS_DIR"
                        f"={settings.configs_dir})")
        config = None
    store = Store(settings.db_path)  # opened below, once the settings are known to be usable
    if config is not None:
        for m in config.enabled:
            try:  # the check a trigger makes: can this model run
                check_model(m, config, env)
            except AITraderError as exc:
                problems.append(f"model {m.signature!r} is enabled in {DEFAULT_CONFIG} but "
                                f"cannot run: {exc.message} (or disable the model)")
    if problems or config is None:
        for p in problems:
            console.print(f"[red]missing setting:[/red] {p}", highlight=False)
        return 2
    async with store:
        if config.data == "demo":
            n = await demo.ensure(store, config.venue,
                                  date.fromisoformat(config.date_range.init_date),
                                  settings.demo_seed)
            console.print(f"demo market: {n:,} bars generated" if n else
                          "demo market: up to date", highlight=False)
        latest = await latest_trading_day(store)
    if latest is None:
        how = ("run `aitrader prices fetch`" if settings.alphavantage_api_key else
               "set ALPHAADVANTAGE_API_KEY and run `aitrader prices fetch`")
        console.print(f"[red]missing setting:[/red] the config's data is {config.data!r} "
                      f"but {settings.db_path} has no prices: {how}, or `aitrader prices "
                      "import` a file", highlight=False)
        return 2
    enabled = ", ".join(m.signature for m in config.enabled) or "none"
    console.print(f"ready: {config.venue.title}, {config.data} data up to {latest}; "
                  f"models: {enabled}",
                  highlight=False)
    return 0
