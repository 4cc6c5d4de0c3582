"""Planning a job as pure functions: no database, no tool servers, the NYSE calendar only."""

from __future__ import annotations

from datetime import date

import pytest

from aitrader import markets
from aitrader.actors.planning import (
    Plan,
    last_simulated,
    plan,
    requested_dates,
    same_work,
)
from aitrader.errors import Conflict, InvalidInput
from aitrader.store.jobs import JobRow, JobStatus

INIT = date(2025, 10, 1)
LATEST = date(2025, 10, 8)
OCT = ("2025-10-02", "2025-10-03", "2025-10-06", "2025-10-07", "2025-10-08")


def planned(models: tuple[str, ...] = ("a",), *, start: date | None = None,
            end: date | None = None, latest: date | None = LATEST,
            config_end: date | None = None, **last: date) -> Plan:
    return plan(markets.get(), models, init_date=INIT, config_end=config_end, start=start,
                end=end, latest=latest.isoformat() if latest else None,
                last_completed={m: d.isoformat() for m, d in last.items()})


def job(models: tuple[str, ...], span: tuple[str, str], path: str = "configs/x.json",
        job_id: str = "j1") -> JobRow:
    return JobRow(job_id, JobStatus.RUNNING, path, span[0], span[1], models,
                  "2025-10-09T00:00:00Z", None, "2025-10-09T00:00:00Z", None, None)


def test_catch_up_runs_every_session_after_the_init_date() -> None:
    """Wednesday 1 Oct is the init date; the weekend of 4-5 Oct is not a session."""
    p = planned()
    assert p.days == {"a": OCT} and p.skipped == {}
    assert p.span == ("2025-10-02", "2025-10-08") and p.total == 5 and p.models == ("a",)


def test_catch_up_starts_after_each_models_last_completed_day() -> None:
    p = planned(("a", "b"), a=date(2025, 10, 3))
    assert p.days == {"a": OCT[2:], "b": OCT}
    assert p.span == ("2025-10-02", "2025-10-08") and p.total == 8


def test_an_explicit_range_skips_what_a_model_has_done() -> None:
    """Days on or before the last completed one are skipped: a ledger never goes backwards."""
    p = planned(("a", "b"), start=date(2025, 10, 2), end=date(2025, 10, 7),
                a=date(2025, 10, 3))
    assert p.days == {"a": ("2025-10-06", "2025-10-07"), "b": OCT[:4]}
    assert p.skipped == {"a": ("2025-10-02", "2025-10-03")}


def test_holidays_and_weekends_are_not_sessions() -> None:
    """Thanksgiving (27 Nov 2025) and the weekend around it are left out."""
    p = planned(start=date(2025, 11, 25), end=date(2025, 12, 1), latest=date(2025, 12, 5))
    assert p.days == {"a": ("2025-11-25", "2025-11-26", "2025-11-28", "2025-12-01")}


def test_the_end_is_the_latest_day_with_data_and_the_configs_end_caps_catch_up() -> None:
    assert planned(end=date(2025, 10, 31)).days == {"a": OCT}  # no data after 8 Oct
    assert planned(config_end=date(2025, 10, 3)).days == {"a": OCT[:2]}
    # an explicit end is the client's choice, not the config's
    assert planned(config_end=date(2025, 10, 3), end=date(2025, 10, 6)).days == \
        {"a": OCT[:3]}


def test_nothing_to_do_is_an_empty_plan() -> None:
    p = planned(("a", "b"), a=LATEST, b=date(2025, 10, 7))
    assert p.days == {"b": ("2025-10-08",)}
    done = {"a": LATEST, "b": LATEST}
    assert planned(("a", "b"), **done).days == {}
    assert last_simulated({"a": "2025-10-08", "b": "2025-10-07", "c": None}) == "2025-10-07"
    assert last_simulated({"a": None}) is None


def test_no_prices_at_all_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no prices yet") as info:
        planned(latest=None)
    assert info.value.details["field"] == "config_path"


@pytest.mark.parametrize(("start", "end", "field", "message"), [
    ("2025-02-30", None, "start_date", "2025-02-30"),
    ("2025-10-02", "10/08/2025", "end_date", "10/08/2025"),
    ("2025-12-08", None, "start_date", "in the future"),
    (None, "2026-01-02", "end_date", "in the future"),
    ("2025-10-08", "2025-10-02", "end_date", "before start_date"),
])
def test_bad_dates_name_their_field(start: str | None, end: str | None, field: str,
                                    message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        requested_dates(start, end, today=date(2025, 12, 7))
    assert info.value.details["field"] == field


def test_good_dates_are_parsed() -> None:
    assert requested_dates("2025-10-02", "2025-10-08", today=date(2025, 12, 7)) == \
        (date(2025, 10, 2), date(2025, 10, 8))
    assert requested_dates(None, None, today=date(2025, 12, 7)) == (None, None)


def test_the_same_work_is_the_running_job() -> None:
    p = planned(("a", "b"))
    same = job(("a", "b"), ("2025-10-02", "2025-10-08"))
    assert same_work(p, "configs/x.json", [same], max_jobs=1) is same


def test_other_work_on_a_busy_model_is_a_conflict_naming_the_job() -> None:
    p = planned(("a", "b"))
    other = job(("b",), ("2025-10-02", "2025-10-03"), job_id="busy")
    with pytest.raises(Conflict) as info:
        same_work(p, "configs/x.json", [other], max_jobs=4)
    assert info.value.details == {"current_job_id": "busy",
                                  "current_date_range": ["2025-10-02", "2025-10-03"]}
    # the same models and span from another config is other work too
    with pytest.raises(Conflict):
        same_work(p, "configs/y.json", [job(("a", "b"), ("2025-10-02", "2025-10-08"))],
                  max_jobs=4)


def test_free_models_start_until_the_job_limit() -> None:
    p = planned(("a",))
    elsewhere = job(("c",), ("2025-10-02", "2025-10-08"), job_id="c-job")
    assert same_work(p, "configs/x.json", [elsewhere], max_jobs=2) is None
    assert same_work(p, "configs/x.json", [], max_jobs=1) is None
    with pytest.raises(Conflict) as info:
        same_work(p, "configs/x.json", [elsewhere], max_jobs=1)
    assert info.value.details["current_job_id"] == "c-job"


def test_hourly_sessions_resume_within_a_day_and_stop_at_the_latest_bar() -> None:
    """An hourly model that completed 10:30 on 9 Oct resumes at 13:00 the same day; data
    that ends at 10:30 on the 10th ends the plan there; the init date's sessions are not
    run (the initial snapshot lies before the first session)."""
    cn = markets.get("cn", "hourly")
    p = plan(cn, ("a", "b"), init_date=date(2025, 10, 8), config_end=None, start=None,
             end=None, latest="2025-10-10T10:30:00+08:00",
             last_completed={"a": "2025-10-09T10:30:00+08:00", "b": None})
    day9 = [f"2025-10-09T{t}:00+08:00" for t in ("09:30", "10:30", "13:00", "14:00")]
    day10 = ["2025-10-10T09:30:00+08:00", "2025-10-10T10:30:00+08:00"]
    assert p.days == {"a": (*day9[2:], *day10), "b": (*day9, *day10)}
    assert p.skipped == {}
    again = plan(cn, ("a",), init_date=date(2025, 10, 9), config_end=None,
                 start=date(2025, 10, 9), end=date(2025, 10, 9), latest=day10[-1],
                 last_completed={"a": None})
    assert again.days == {} and again.skipped == {"a": tuple(day9)}


def test_the_next_session_is_later_that_day_or_the_next_trading_day() -> None:
    def nxt(key: str, freq: str, after: str) -> str | None:
        found = markets.get(key, freq).next_session(after)
        return found.id if found else None

    assert nxt("cn", "hourly", "2025-10-09T10:30:00+08:00") == "2025-10-09T13:00:00+08:00"
    assert nxt("cn", "hourly", "2025-09-30T14:00:00+08:00") == "2025-10-09T09:30:00+08:00"
    assert nxt("us", "daily", "2025-10-31") == "2025-11-03"
