"""Store a finished simulation job's results in Postgres, idempotently.

A job runs one market at one frequency (US, China A-shares or crypto; daily or hourly). The
script asks the service which (the performance of one of the job's models names it), reads
the value series of /results/performance for that market over the job's days (which sessions
have results, and the market's benchmark), then /results for each of those local days, and
upserts:
- ai_trader_results: one row per model and session (value, cash, profit, return, positions);
- ai_trader_benchmark: the benchmark's value per market, frequency and session;
- ai_trader_jobs: the job itself.
Every row carries the session twice: `session`, the instant it starts (TIMESTAMPTZ: hourly,
the bar's start; daily, the market's open on that day, as the service's sessions start), and
`session_id`, the id as the API writes it. A row that has not changed is left as it is, so
running it twice changes nothing. Tables written by the previous version (one row per model
and date, US daily only) are migrated in place on the first run: their rows are kept and
become US daily sessions.
"""

#requirements:
#psycopg2-binary==2.9.11

import json
from datetime import datetime
from typing import TypedDict

import psycopg2

from f.ai_trader.aitrader_get import AiTraderError, ai_trader_api, api_get


class postgresql(TypedDict):
    host: str
    port: int
    user: str
    dbname: str
    sslmode: str
    password: str


# Where a daily session starts: the market's time zone and its opening time (aitrader's
# sessions start there too). Hourly ids carry their own instant.
DAILY_START = {
    "us": ("America/New_York", "09:30"),
    "cn": ("Asia/Shanghai", "09:30"),
    "crypto": ("UTC", "00:00"),
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS ai_trader_results (
    model TEXT NOT NULL,
    date DATE NOT NULL,
    portfolio_value NUMERIC NOT NULL,
    cash NUMERIC NOT NULL,
    profit NUMERIC NOT NULL,
    return_pct DOUBLE PRECISION NOT NULL,
    positions JSONB NOT NULL,
    job_id TEXT,
    stored_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    market TEXT NOT NULL,
    frequency TEXT NOT NULL,
    session TIMESTAMPTZ NOT NULL,
    session_id TEXT NOT NULL,
    CONSTRAINT ai_trader_results_session_key PRIMARY KEY (model, session)
);
CREATE TABLE IF NOT EXISTS ai_trader_benchmark (
    symbol TEXT NOT NULL,
    date DATE NOT NULL,
    value NUMERIC NOT NULL,
    daily_return_pct DOUBLE PRECISION NOT NULL,
    market TEXT NOT NULL,
    frequency TEXT NOT NULL,
    session TIMESTAMPTZ NOT NULL,
    session_id TEXT NOT NULL,
    CONSTRAINT ai_trader_benchmark_session_key
        PRIMARY KEY (market, frequency, symbol, session)
);
CREATE TABLE IF NOT EXISTS ai_trader_jobs (
    job_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    date_start DATE,
    date_end DATE,
    models JSONB NOT NULL,
    total_model_days INTEGER NOT NULL,
    failed_model_days INTEGER NOT NULL,
    total_duration_seconds DOUBLE PRECISION,
    stored_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    market TEXT,
    frequency TEXT,
    first_session TIMESTAMPTZ,
    last_session TIMESTAMPTZ,
    first_session_id TEXT,
    last_session_id TEXT
);
"""

# The tables of the previous version: one row per (model, date) and (symbol, date), all US
# daily, money as NUMERIC(18, 4). Each table migrates once, inside the store's transaction
# (all or nothing); a migrated or new table only costs the catalogue look-up.
MIGRATE = """
DO $migrate$
BEGIN
IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'ai_trader_results'::regclass
               AND attname = 'session' AND NOT attisdropped) THEN
    ALTER TABLE ai_trader_results
        ADD COLUMN IF NOT EXISTS market TEXT,
        ADD COLUMN IF NOT EXISTS frequency TEXT,
        ADD COLUMN IF NOT EXISTS session TIMESTAMPTZ,
        ADD COLUMN IF NOT EXISTS session_id TEXT,
        ALTER COLUMN portfolio_value TYPE NUMERIC,
        ALTER COLUMN cash TYPE NUMERIC,
        ALTER COLUMN profit TYPE NUMERIC;
    UPDATE ai_trader_results SET market = 'us', frequency = 'daily',
        session_id = to_char(date, 'YYYY-MM-DD'),
        session = (date + TIME '09:30') AT TIME ZONE 'America/New_York';
    ALTER TABLE ai_trader_results
        ALTER COLUMN market SET NOT NULL,
        ALTER COLUMN frequency SET NOT NULL,
        ALTER COLUMN session SET NOT NULL,
        ALTER COLUMN session_id SET NOT NULL,
        DROP CONSTRAINT IF EXISTS ai_trader_results_pkey,
        ADD CONSTRAINT ai_trader_results_session_key PRIMARY KEY (model, session);
END IF;
IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'ai_trader_benchmark'::regclass
               AND attname = 'session' AND NOT attisdropped) THEN
    ALTER TABLE ai_trader_benchmark
        ADD COLUMN IF NOT EXISTS market TEXT,
        ADD COLUMN IF NOT EXISTS frequency TEXT,
        ADD COLUMN IF NOT EXISTS session TIMESTAMPTZ,
        ADD COLUMN IF NOT EXISTS session_id TEXT,
        ALTER COLUMN value TYPE NUMERIC;
    UPDATE ai_trader_benchmark SET market = 'us', frequency = 'daily',
        session_id = to_char(date, 'YYYY-MM-DD'),
        session = (date + TIME '09:30') AT TIME ZONE 'America/New_York';
    ALTER TABLE ai_trader_benchmark
        ALTER COLUMN market SET NOT NULL,
        ALTER COLUMN frequency SET NOT NULL,
        ALTER COLUMN session SET NOT NULL,
        ALTER COLUMN session_id SET NOT NULL,
        DROP CONSTRAINT IF EXISTS ai_trader_benchmark_pkey,
        ADD CONSTRAINT ai_trader_benchmark_session_key
            PRIMARY KEY (market, frequency, symbol, session);
END IF;
IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'ai_trader_jobs'::regclass
               AND attname = 'first_session' AND NOT attisdropped) THEN
    ALTER TABLE ai_trader_jobs
        ADD COLUMN IF NOT EXISTS market TEXT,
        ADD COLUMN IF NOT EXISTS frequency TEXT,
        ADD COLUMN IF NOT EXISTS first_session TIMESTAMPTZ,
        ADD COLUMN IF NOT EXISTS last_session TIMESTAMPTZ,
        ADD COLUMN IF NOT EXISTS first_session_id TEXT,
        ADD COLUMN IF NOT EXISTS last_session_id TEXT;
    UPDATE ai_trader_jobs SET market = 'us', frequency = 'daily',
        first_session_id = to_char(date_start, 'YYYY-MM-DD'),
        last_session_id = to_char(date_end, 'YYYY-MM-DD'),
        first_session = (date_start + TIME '09:30') AT TIME ZONE 'America/New_York',
        last_session = (date_end + TIME '09:30') AT TIME ZONE 'America/New_York'
    WHERE date_start IS NOT NULL;
END IF;
END
$migrate$;
CREATE INDEX IF NOT EXISTS ai_trader_results_market_session
    ON ai_trader_results (market, frequency, session);
"""

# one store at a time: two flows storing at once (two markets' schedules) wait for each
# other instead of racing on CREATE TABLE or the migration
LOCK = "SELECT pg_advisory_xact_lock(hashtext('f/ai_trader/fetch_and_store_results'))"

UPSERT_RESULT = """
INSERT INTO ai_trader_results AS r
    (model, date, portfolio_value, cash, profit, return_pct, positions, job_id,
     market, frequency, session, session_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::timestamptz, %s)
ON CONFLICT (model, session) DO UPDATE SET
    date = EXCLUDED.date, portfolio_value = EXCLUDED.portfolio_value, cash = EXCLUDED.cash,
    profit = EXCLUDED.profit, return_pct = EXCLUDED.return_pct,
    positions = EXCLUDED.positions, job_id = EXCLUDED.job_id, market = EXCLUDED.market,
    frequency = EXCLUDED.frequency, session_id = EXCLUDED.session_id, stored_at = now()
WHERE (r.date, r.portfolio_value, r.cash, r.profit, r.return_pct, r.positions, r.market,
       r.frequency, r.session_id)
    IS DISTINCT FROM (EXCLUDED.date, EXCLUDED.portfolio_value, EXCLUDED.cash, EXCLUDED.profit,
                      EXCLUDED.return_pct, EXCLUDED.positions, EXCLUDED.market,
                      EXCLUDED.frequency, EXCLUDED.session_id)
"""

UPSERT_BENCHMARK = """
INSERT INTO ai_trader_benchmark AS b
    (symbol, date, value, daily_return_pct, market, frequency, session, session_id)
VALUES (%s, %s, %s, %s, %s, %s, %s::timestamptz, %s)
ON CONFLICT (market, frequency, symbol, session) DO UPDATE SET
    date = EXCLUDED.date, value = EXCLUDED.value,
    daily_return_pct = EXCLUDED.daily_return_pct, session_id = EXCLUDED.session_id
WHERE (b.date, b.value, b.daily_return_pct, b.session_id)
    IS DISTINCT FROM (EXCLUDED.date, EXCLUDED.value, EXCLUDED.daily_return_pct,
                      EXCLUDED.session_id)
"""

UPSERT_JOB = """
INSERT INTO ai_trader_jobs AS j (job_id, status, date_start, date_end, models, total_model_days,
                                 failed_model_days, total_duration_seconds, market, frequency,
                                 first_session, last_session, first_session_id,
                                 last_session_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::timestamptz, %s::timestamptz, %s, %s)
ON CONFLICT (job_id) DO UPDATE SET
    status = EXCLUDED.status, date_start = EXCLUDED.date_start, date_end = EXCLUDED.date_end,
    models = EXCLUDED.models, total_model_days = EXCLUDED.total_model_days,
    failed_model_days = EXCLUDED.failed_model_days,
    total_duration_seconds = EXCLUDED.total_duration_seconds, market = EXCLUDED.market,
    frequency = EXCLUDED.frequency, first_session = EXCLUDED.first_session,
    last_session = EXCLUDED.last_session, first_session_id = EXCLUDED.first_session_id,
    last_session_id = EXCLUDED.last_session_id, stored_at = now()
WHERE (j.status, j.date_start, j.date_end, j.models, j.total_model_days, j.failed_model_days,
       j.total_duration_seconds, j.market, j.frequency, j.first_session, j.last_session,
       j.first_session_id, j.last_session_id)
    IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.date_start, EXCLUDED.date_end, EXCLUDED.models,
                      EXCLUDED.total_model_days, EXCLUDED.failed_model_days,
                      EXCLUDED.total_duration_seconds, EXCLUDED.market, EXCLUDED.frequency,
                      EXCLUDED.first_session, EXCLUDED.last_session,
                      EXCLUDED.first_session_id, EXCLUDED.last_session_id)
"""


def session_start(session_id: str | None, market: str | None) -> str | None:
    """The instant a session starts, as text Postgres reads as TIMESTAMPTZ: an hourly id is
    one already (`2025-10-09T09:30:00+08:00`); a daily id (a date) starts at the market's
    open in its zone (`2025-10-09 09:30 Asia/Shanghai`, which Postgres resolves with its own
    time-zone rules, daylight saving included)."""
    if not session_id:
        return None
    if "T" in session_id:
        return session_id
    if market not in DAILY_START:
        raise AiTraderError(f"market {market!r} is not one this script knows "
                            f"({', '.join(DAILY_START)}): add its zone and open to DAILY_START")
    zone, opens = DAILY_START[market]
    return f"{session_id} {opens} {zone}"


def _sort_key(session_id: str) -> tuple[str, datetime | str]:
    """Sessions in the order of their instants (ids of one market, daily or hourly)."""
    if "T" in session_id:
        return ("", datetime.fromisoformat(session_id))
    return (session_id, session_id)


def in_range(session_id: str, first: str, last: str) -> bool:
    """Whether a session lies between the job's first and last session, by instant (a daily
    id only compares with daily ids: a bare date in an hourly series is a baseline)."""
    if ("T" in session_id) != ("T" in first):
        return False
    if "T" in session_id:
        return (datetime.fromisoformat(first) <= datetime.fromisoformat(session_id)
                <= datetime.fromisoformat(last))
    return first <= session_id <= last


def market_of(api: ai_trader_api, models: list[str], start_day: str,
              end_day: str) -> tuple[str, str] | None:
    """The job's market and frequency: a job runs one, and the performance of any of its
    models names it. None when the service has no performance for any of them."""
    for model in models:
        doc = api_get(api, "/results/performance",
                      {"model": model, "start_date": start_day, "end_date": end_day},
                      missing_ok=True)
        if doc and doc.get("market"):
            return doc["market"], doc["frequency"]
    return None


def main(api: ai_trader_api, db: postgresql, job_id: str):
    job = api_get(api, f"/simulate/status/{job_id}", missing_ok=True)
    if job is None:
        raise AiTraderError(f"job {job_id} is not known to the service")
    if job["status"] not in ("completed", "partial"):
        raise AiTraderError(f"job {job_id} is {job['status']}: only a finished job's results "
                            "are stored")
    first, last = job["date_range"]  # session ids: dates, or hourly bars' starts
    start, end = first[:10], last[:10]  # their local dates
    kind = market_of(api, job["models"], start, end)
    market, frequency = kind if kind else (None, None)
    perf = {}
    if kind:
        perf = api_get(api, "/results/performance",
                       {"market": market, "frequency": frequency, "start_date": start,
                        "end_date": end}, missing_ok=True) or {}
    models = perf.get("models", {})
    sessions = sorted({p["date"] for m in models.values() for p in m["series"]
                       if in_range(p["date"], first, last)}, key=_sort_key)
    wanted = set(sessions)
    days = sorted({s[:10] for s in sessions})  # one /results call per local day
    rows = []
    for day in days:
        doc = api_get(api, "/results", {"date": day}, missing_ok=True)
        for r in (doc or {}).get("results", []):
            sid = r.get("session", day)
            if r["model"] not in models or sid not in wanted:
                continue  # another market's model, or a session outside the job
            positions = dict(r["positions"])
            cash = positions.pop("CASH", 0.0)
            pnl = r["daily_pnl"]
            rows.append((r["model"], sid[:10], pnl["portfolio_value"], cash, pnl["profit"],
                         pnl["return_pct"], json.dumps(positions, sort_keys=True), job_id,
                         market, frequency, session_start(sid, market), sid))
    bench = perf.get("benchmark") or {}
    bench_rows = [(bench.get("symbol", "QQQ"), p["date"][:10], p["portfolio_value"],
                   p["daily_return_pct"], market, frequency, session_start(p["date"], market),
                   p["date"]) for p in bench.get("series", [])
                  if in_range(p["date"], first, last)]
    progress = job["progress"]
    job_row = (job_id, job["status"], start, end, json.dumps(job["models"]),
               progress["total_model_days"], progress["failed"],
               job.get("total_duration_seconds"), market, frequency,
               session_start(first, market) if market else None,
               session_start(last, market) if market else None, first, last)
    conn = psycopg2.connect(host=db["host"], port=db["port"], user=db["user"],
                            password=db.get("password") or None, dbname=db["dbname"],
                            sslmode=db.get("sslmode") or "prefer", connect_timeout=15)
    try:
        with conn, conn.cursor() as cur:  # one transaction: all rows or none
            cur.execute(LOCK)
            cur.execute(SCHEMA)
            cur.execute(MIGRATE)
            cur.executemany(UPSERT_RESULT, rows)
            cur.executemany(UPSERT_BENCHMARK, bench_rows)
            cur.execute(UPSERT_JOB, job_row)
    finally:
        conn.close()
    return {"job_id": job_id, "status": job["status"], "market": market,
            "frequency": frequency, "days": len(days), "sessions": len(sessions),
            "result_rows": len(rows), "benchmark_rows": len(bench_rows),
            "date_range": [first, last]}
