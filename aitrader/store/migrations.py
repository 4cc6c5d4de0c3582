"""The schema, as numbered migrations. Append new ones; never edit one that has shipped.

Since migration 5, prices, money and quantities are exact decimals kept as TEXT (`12.3456`,
`0.12345678`; see aitrader.money), and the `date` columns of the ledger hold session ids
(`2025-10-02`, or `2025-10-31T10:00:00-04:00` in hourly runs: within one market and frequency
they sort like their instants). Migrations 1-4 kept money as integer 1/10,000 ("_e4"). Times
are ISO-8601 UTC text.
"""

from __future__ import annotations


def _e4_text(column: str) -> str:
    """SQL turning an integer count of 1/10,000 into its exact decimal text."""
    return (f"CASE WHEN {column} < 0 THEN '-' || printf('%d.%04d', -{column} / 10000, "
            f"-{column} % 10000) ELSE printf('%d.%04d', {column} / 10000, {column} % 10000) END")


def _to_text(table: str, old: str, new: str, *, e4: bool = True, check: str = ""
             ) -> tuple[str, ...]:
    """Replace an integer column by an exact decimal TEXT column, data converted; `check`
    (e.g. "> 0") is kept as a CHECK on the decimal's value (a backstop: the ledger checks
    exactly before it writes)."""
    value = _e4_text(old) if e4 else f"CAST({old} AS TEXT)"
    constraint = f" CHECK ({new} IS NULL OR CAST({new} AS REAL) {check})" if check else ""
    return (f"ALTER TABLE {table} ADD COLUMN {new} TEXT{constraint}",
            f"UPDATE {table} SET {new} = {value} WHERE {old} IS NOT NULL",
            f"ALTER TABLE {table} DROP COLUMN {old}")


MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "core: prices, models, jobs, attempts, trades, end-of-day, events, llm usage",
        (
            """CREATE TABLE prices (
                symbol TEXT NOT NULL,
                date TEXT NOT NULL,
                open_e4 INTEGER NOT NULL,
                high_e4 INTEGER NOT NULL,
                low_e4 INTEGER NOT NULL,
                close_e4 INTEGER NOT NULL,
                volume INTEGER NOT NULL,
                source TEXT NOT NULL,
                PRIMARY KEY (symbol, date)
            ) WITHOUT ROWID""",
            "CREATE INDEX prices_date ON prices (date)",
            """CREATE TABLE fetch_log (
                id INTEGER PRIMARY KEY,
                symbol TEXT NOT NULL,
                fetched_at TEXT NOT NULL,
                outcome TEXT NOT NULL,
                bars INTEGER NOT NULL DEFAULT 0,
                message TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX fetch_log_symbol ON fetch_log (symbol, fetched_at)",
            """CREATE TABLE models (
                signature TEXT PRIMARY KEY,
                initial_cash_e4 INTEGER NOT NULL CHECK (initial_cash_e4 >= 0),
                init_date TEXT NOT NULL,
                source TEXT NOT NULL DEFAULT 'service',
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE jobs (
                id TEXT PRIMARY KEY,
                status TEXT NOT NULL,
                config_path TEXT,
                date_start TEXT,
                date_end TEXT,
                models TEXT NOT NULL DEFAULT '[]',
                created_at TEXT NOT NULL,
                started_at TEXT,
                updated_at TEXT NOT NULL,
                completed_at TEXT,
                error TEXT
            )""",
            "CREATE INDEX jobs_created ON jobs (created_at)",
            """CREATE TABLE model_days (
                job_id TEXT NOT NULL REFERENCES jobs (id),
                model TEXT NOT NULL,
                date TEXT NOT NULL,
                status TEXT NOT NULL,
                attempt_id INTEGER,
                tries INTEGER NOT NULL DEFAULT 0,
                started_at TEXT,
                finished_at TEXT,
                duration_seconds REAL,
                error TEXT,
                PRIMARY KEY (job_id, model, date)
            )""",
            """CREATE TABLE attempts (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                model TEXT NOT NULL REFERENCES models (signature),
                date TEXT NOT NULL,
                job_id TEXT,
                status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'voided')),
                prev_date TEXT,
                started_at TEXT NOT NULL,
                finished_at TEXT,
                note TEXT
            )""",
            """CREATE UNIQUE INDEX attempts_one_completed
                ON attempts (model, date) WHERE status = 'completed'""",
            """CREATE UNIQUE INDEX attempts_one_running
                ON attempts (model) WHERE status = 'running'""",
            """CREATE TABLE trades (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                attempt_id INTEGER NOT NULL REFERENCES attempts (id),
                model TEXT NOT NULL,
                date TEXT NOT NULL,
                action TEXT NOT NULL CHECK (action IN ('buy', 'sell')),
                symbol TEXT NOT NULL,
                amount INTEGER NOT NULL CHECK (amount > 0),
                price_e4 INTEGER NOT NULL CHECK (price_e4 > 0),
                total_e4 INTEGER NOT NULL,
                created_at TEXT NOT NULL
            )""",
            "CREATE INDEX trades_attempt ON trades (attempt_id)",
            "CREATE INDEX trades_model_date ON trades (model, date)",
            """CREATE TABLE eod (
                model TEXT NOT NULL,
                date TEXT NOT NULL,
                attempt_id INTEGER NOT NULL REFERENCES attempts (id),
                cash_e4 INTEGER NOT NULL CHECK (cash_e4 >= 0),
                value_e4 INTEGER NOT NULL,
                profit_e4 INTEGER NOT NULL,
                return_pct REAL NOT NULL,
                PRIMARY KEY (model, date)
            )""",
            """CREATE TABLE holdings (
                model TEXT NOT NULL,
                date TEXT NOT NULL,
                symbol TEXT NOT NULL,
                shares INTEGER NOT NULL CHECK (shares > 0),
                PRIMARY KEY (model, date, symbol)
            ) WITHOUT ROWID""",
            """CREATE TABLE events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                time TEXT NOT NULL,
                type TEXT NOT NULL,
                job_id TEXT,
                model TEXT,
                date TEXT,
                data TEXT NOT NULL DEFAULT '{}'
            )""",
            "CREATE INDEX events_job ON events (job_id, seq)",
            """CREATE TABLE llm_calls (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                attempt_id INTEGER,
                model TEXT NOT NULL,
                date TEXT,
                started_at TEXT NOT NULL,
                latency_ms REAL NOT NULL,
                prompt_tokens INTEGER NOT NULL DEFAULT 0,
                completion_tokens INTEGER NOT NULL DEFAULT 0,
                cost_usd REAL NOT NULL DEFAULT 0,
                outcome TEXT NOT NULL,
                error TEXT
            )""",
            "CREATE INDEX llm_calls_attempt ON llm_calls (attempt_id)",
            """CREATE TABLE messages (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                attempt_id INTEGER NOT NULL,
                step INTEGER NOT NULL,
                role TEXT NOT NULL,
                content TEXT NOT NULL,
                created_at TEXT NOT NULL
            )""",
            "CREATE INDEX messages_attempt ON messages (attempt_id, id)",
        ),
    ),
    (
        2,
        "a model-day's reasoning summary on its attempt",
        (
            "ALTER TABLE attempts ADD COLUMN steps INTEGER",
            "ALTER TABLE attempts ADD COLUMN stop_signal INTEGER",
            "ALTER TABLE attempts ADD COLUMN summary TEXT",
            "ALTER TABLE attempts ADD COLUMN tool_usage TEXT",
        ),
    ),
    (
        3,
        "an open attempt's running position (a trade costs the same after any number); its log",
        (
            # NULL for attempts opened before this migration: rebuilt from their trades once
            "ALTER TABLE attempts ADD COLUMN cash_e4 INTEGER",
            # where the model-day's log.jsonl was written (the config's log_path at the time)
            "ALTER TABLE attempts ADD COLUMN log_file TEXT",
            """CREATE TABLE attempt_holdings (
                attempt_id INTEGER NOT NULL REFERENCES attempts (id),
                symbol TEXT NOT NULL,
                shares INTEGER NOT NULL CHECK (shares > 0),
                PRIMARY KEY (attempt_id, symbol)
            ) WITHOUT ROWID""",
        ),
    ),
    (
        4,
        "an attempt's session key: tool servers learn the caller from it, not from headers",
        (
            # SHA-256 of the unguessable key the actor's MCP sessions carry while the attempt
            # runs; NULL for attempts opened before this migration (no tool call can name them)
            "ALTER TABLE attempts ADD COLUMN key_hash TEXT",
            "CREATE UNIQUE INDEX attempts_key ON attempts (key_hash) WHERE key_hash IS NOT NULL",
        ),
    ),
    (
        5,
        "markets: bars per market and frequency; exact decimal prices, money and quantities",
        (
            """CREATE TABLE bars (
                market TEXT NOT NULL,
                frequency TEXT NOT NULL CHECK (frequency IN ('daily', 'hourly')),
                symbol TEXT NOT NULL,
                session TEXT NOT NULL,
                open TEXT NOT NULL,
                high TEXT NOT NULL,
                low TEXT NOT NULL,
                close TEXT NOT NULL,
                volume TEXT NOT NULL,
                source TEXT NOT NULL,
                PRIMARY KEY (market, frequency, symbol, session)
            ) WITHOUT ROWID""",
            "CREATE INDEX bars_session ON bars (market, frequency, session)",
            "INSERT INTO bars (market, frequency, symbol, session, open, high, low, close, "
            f"volume, source) SELECT 'us', 'daily', symbol, date, {_e4_text('open_e4')}, "
            f"{_e4_text('high_e4')}, {_e4_text('low_e4')}, {_e4_text('close_e4')}, "
            "CAST(volume AS TEXT), source FROM prices",
            "DROP TABLE prices",
            # every model so far traded NASDAQ-100 daily in USD
            "ALTER TABLE models ADD COLUMN market TEXT NOT NULL DEFAULT 'us'",
            "ALTER TABLE models ADD COLUMN frequency TEXT NOT NULL DEFAULT 'daily'",
            *_to_text("models", "initial_cash_e4", "initial_cash", check=">= 0"),
            *_to_text("attempts", "cash_e4", "cash", check=">= 0"),
            *_to_text("attempt_holdings", "shares", "quantity", e4=False, check="> 0"),
            *_to_text("trades", "amount", "quantity", e4=False, check="> 0"),
            *_to_text("trades", "price_e4", "price", check="> 0"),
            *_to_text("trades", "total_e4", "total"),
            *_to_text("eod", "cash_e4", "cash", check=">= 0"),
            *_to_text("eod", "value_e4", "value"),
            *_to_text("eod", "profit_e4", "profit"),
            *_to_text("holdings", "shares", "quantity", e4=False, check="> 0"),
        ),
    ),
    (
        6,
        "fetch_log: the sessions a request asked for, so that only those count as absent",
        (
            "ALTER TABLE fetch_log ADD COLUMN asked_from TEXT",
            "ALTER TABLE fetch_log ADD COLUMN asked_to TEXT",
        ),
    ),
    (
        7,
        "llm_exchanges: every LLM request as sent and its raw response, for replay",
        (
            """CREATE TABLE llm_exchanges (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                attempt_id INTEGER,
                model TEXT NOT NULL,
                date TEXT,
                call INTEGER NOT NULL,
                status INTEGER NOT NULL,
                request TEXT NOT NULL,
                response TEXT NOT NULL,
                created_at TEXT NOT NULL
            )""",
            "CREATE INDEX llm_exchanges_attempt ON llm_exchanges (attempt_id, call)",
        ),
    ),
)
