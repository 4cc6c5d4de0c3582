"""Planning a job, as pure functions: which sessions each model runs, which it has already
done, and whether the work collides with the jobs already running. No database, no tool
server: everything they need is passed in (tests/actors/test_planning.py).

Sessions are the market's (a day each for daily runs, the day's bars for hourly ones) and
are named by their ids, which sort like their instants within one market and frequency.

- Catch-up (no dates): for each model, the sessions after its last completed one (or after
  the config's init date) up to the latest session with data, capped by the config's end
  date when it has one.
- An explicit range (trading days, both included): its sessions; those on or before a
  model's last completed session are skipped (a ledger is never rewritten backwards).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

import attrs

from aitrader.errors import Conflict, InvalidInput
from aitrader.market.calendar import parse_date
from aitrader.markets import Market
from aitrader.markets.sessions import Session
from aitrader.store.jobs import JobRow


@attrs.frozen
class Plan:
    days: Mapping[str, tuple[str, ...]]  # model -> sessions to run, in order
    skipped: Mapping[str, tuple[str, ...]]  # model -> sessions it has already done

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(sorted(self.days))

    @property
    def span(self) -> tuple[str, str] | None:
        every = [d for ds in self.days.values() for d in ds]
        return (min(every), max(every)) if every else None

    @property
    def total(self) -> int:
        return sum(len(ds) for ds in self.days.values())


def requested_dates(start: str | None, end: str | None, *, today: date
                    ) -> tuple[date | None, date | None]:
    """A request's dates, or InvalidInput naming the field: malformed, in the future, or an
    end before the start."""
    s = parse_date(start, field="start_date") if start else None
    e = parse_date(end, field="end_date") if end else None
    for value, field in ((s, "start_date"), (e, "end_date")):
        if value and value > today:
            raise InvalidInput(f"{field} {value} is in the future", field=field)
    if s and e and e < s:
        raise InvalidInput("end_date is before start_date", field="end_date")
    return s, e


def plan(market: Market, models: Sequence[str], *, init_date: date,
         config_end: date | None, start: date | None, end: date | None,
         latest: str | None, last_completed: Mapping[str, str | None]) -> Plan:
    """Each model's sessions to run and to skip (see the module's docstring). `latest` is
    the latest session with data; `last_completed` each model's last completed session."""
    if latest is None:
        raise InvalidInput("there are no prices yet; generate the demo market or import "
                           "prices first", field="config_path")
    latest_day = date.fromisoformat(latest[:10])
    days: dict[str, tuple[str, ...]] = {}
    skipped: dict[str, tuple[str, ...]] = {}
    for model in models:
        last = last_completed.get(model)

        def done(s: Session, last: str | None = last) -> bool:
            return s.day <= init_date or (last is not None and s.id <= last)

        lo = start or (date.fromisoformat(last[:10]) if last
                       else init_date + timedelta(days=1))
        hi = min(end or latest_day, latest_day)
        if config_end and not end:
            hi = min(hi, config_end)
        sessions = [s for s in market.sessions(lo, hi) if s.id <= latest] if lo <= hi else []
        run = tuple(s.id for s in sessions if not done(s))
        skip = tuple(s.id for s in sessions if done(s)) if start else ()
        if run:
            days[model] = run
        if skip:
            skipped[model] = skip
    return Plan(days, skipped)


def last_simulated(last_completed: Mapping[str, str | None]) -> str | None:
    """For "nothing to do": the earliest of the models' last completed sessions."""
    return min((d for d in last_completed.values() if d), default=None)


def same_work(plan: Plan, config_path: str, active: Sequence[JobRow],
              max_jobs: int) -> JobRow | None:
    """The running job doing exactly this work (a repeated trigger gets it back), or None
    when a new job may start. Conflict when other running work shares a model, or when
    `max_jobs` jobs already run."""
    for job in active:
        if job.config_path == config_path and job.models == plan.models and \
                (job.date_start, job.date_end) == plan.span:
            return job
    busy = [j for j in active if set(j.models) & set(plan.models)]
    if busy or len(active) >= max_jobs:
        current = (busy or list(active))[0]
        raise Conflict("other work is running: wait for it or cancel it",
                       current_job_id=current.id,
                       current_date_range=[current.date_start, current.date_end])
    return None
