# ruff: noqa: E402, I001  (the old file as it was)
"""The previous version of f/ai_trader/fetch_and_store_results (commit 5c58930, before markets
and sessions), kept verbatim below this docstring so the migration test can build the tables
and rows a deployed workspace has today. Not a workspace script: never edit it."""

"""Store a finished simulation job's results in Postgres, idempotently.

Reads the job (its date range and models), the value series of /results/performance over that
range (which days have results, and QQQ), then /results for each of those days, and upserts:
- ai_trader_results: one row per model and day (value, cash, profit, return, positions);
- ai_trader_benchmark: QQQ's value per day;
- ai_trader_jobs: the job itself.
A row that has not changed is left as it is, so running it twice changes nothing.
"""

#requirements:
#psycopg2-binary==2.9.11

import json
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


SCHEMA = """
CREATE TABLE IF NOT EXISTS ai_trader_results (
    model TEXT NOT NULL,
    date DATE NOT NULL,
    portfolio_value NUMERIC(18, 4) NOT NULL,
    cash NUMERIC(18, 4) NOT NULL,
    profit NUMERIC(18, 4) NOT NULL,
    return_pct DOUBLE PRECISION NOT NULL,
    positions JSONB NOT NULL,
    job_id TEXT,
    stored_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (model, date)
);
CREATE TABLE IF NOT EXISTS ai_trader_benchmark (
    symbol TEXT NOT NULL,
    date DATE NOT NULL,
    value NUMERIC(18, 4) NOT NULL,
    daily_return_pct DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (symbol, date)
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
    stored_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""

UPSERT_RESULT = """
INSERT INTO ai_trader_results AS r
    (model, date, portfolio_value, cash, profit, return_pct, positions, job_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (model, date) DO UPDATE SET
    portfolio_value = EXCLUDED.portfolio_value, cash = EXCLUDED.cash,
    profit = EXCLUDED.profit, return_pct = EXCLUDED.return_pct,
    positions = EXCLUDED.positions, job_id = EXCLUDED.job_id, stored_at = now()
WHERE (r.portfolio_value, r.cash, r.profit, r.return_pct, r.positions)
    IS DISTINCT FROM (EXCLUDED.portfolio_value, EXCLUDED.cash, EXCLUDED.profit,
                      EXCLUDED.return_pct, EXCLUDED.positions)
"""

UPSERT_BENCHMARK = """
INSERT INTO ai_trader_benchmark AS b (symbol, date, value, daily_return_pct)
VALUES (%s, %s, %s, %s)
ON CONFLICT (symbol, date) DO UPDATE SET
    value = EXCLUDED.value, daily_return_pct = EXCLUDED.daily_return_pct
WHERE (b.value, b.daily_return_pct) IS DISTINCT FROM (EXCLUDED.value, EXCLUDED.daily_return_pct)
"""

UPSERT_JOB = """
INSERT INTO ai_trader_jobs AS j (job_id, status, date_start, date_end, models, total_model_days,
                                 failed_model_days, total_duration_seconds)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (job_id) DO UPDATE SET
    status = EXCLUDED.status, date_start = EXCLUDED.date_start, date_end = EXCLUDED.date_end,
    models = EXCLUDED.models, total_model_days = EXCLUDED.total_model_days,
    failed_model_days = EXCLUDED.failed_model_days,
    total_duration_seconds = EXCLUDED.total_duration_seconds, stored_at = now()
WHERE (j.status, j.date_start, j.date_end, j.models, j.total_model_days, j.failed_model_days,
       j.total_duration_seconds)
    IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.date_start, EXCLUDED.date_end, EXCLUDED.models,
                      EXCLUDED.total_model_days, EXCLUDED.failed_model_days,
                      EXCLUDED.total_duration_seconds)
"""


def main(api: ai_trader_api, db: postgresql, job_id: str):  # type: ignore[no-untyped-def]
    job = api_get(api, f"/simulate/status/{job_id}", missing_ok=True)
    if job is None:
        raise AiTraderError(f"job {job_id} is not known to the service")
    if job["status"] not in ("completed", "partial"):
        raise AiTraderError(f"job {job_id} is {job['status']}: only a finished job's results "
                            "are stored")
    start, end = job["date_range"]
    perf = api_get(api, "/results/performance",
                   {"start_date": start, "end_date": end}, missing_ok=True) or {}
    days = sorted({p["date"] for m in perf.get("models", {}).values() for p in m["series"]
                   if start <= p["date"] <= end})
    rows = []
    for day in days:
        doc = api_get(api, "/results", {"date": day}, missing_ok=True)
        for r in (doc or {}).get("results", []):
            positions = dict(r["positions"])
            cash = positions.pop("CASH", 0.0)
            pnl = r["daily_pnl"]
            rows.append((r["model"], day, pnl["portfolio_value"], cash, pnl["profit"],
                         pnl["return_pct"], json.dumps(positions, sort_keys=True), job_id))
    bench = perf.get("benchmark") or {}
    bench_rows = [(bench.get("symbol", "QQQ"), p["date"], p["portfolio_value"],
                   p["daily_return_pct"]) for p in bench.get("series", [])
                  if start <= p["date"] <= end]
    progress = job["progress"]
    conn = psycopg2.connect(host=db["host"], port=db["port"], user=db["user"],
                            password=db.get("password") or None, dbname=db["dbname"],
                            sslmode=db.get("sslmode") or "prefer", connect_timeout=15)
    try:
        with conn, conn.cursor() as cur:  # one transaction: all rows or none
            cur.execute(SCHEMA)
            cur.executemany(UPSERT_RESULT, rows)
            cur.executemany(UPSERT_BENCHMARK, bench_rows)
            cur.execute(UPSERT_JOB, (job_id, job["status"], start, end,
                                     json.dumps(job["models"]), progress["total_model_days"],
                                     progress["failed"], job.get("total_duration_seconds")))
    finally:
        conn.close()
    return {"job_id": job_id, "status": job["status"], "days": len(days),
            "result_rows": len(rows), "benchmark_rows": len(bench_rows),
            "date_range": [start, end]}
