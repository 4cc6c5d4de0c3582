"""Recovery on start: every job a crash or a stop interrupted is resumed or closed, with a
reason, and nothing here can keep the service from starting.

- Attempts left running are voided (their trades removed) and their model-days go back to
  pending.
- Each interrupted job's config is loaded again. Its pending model-days resume, except those
  that can no longer run, which end `failed` with a message naming why: the config file is
  gone or invalid, the model is no longer in it (or is disabled, or cannot run: no API
  key), or the market has no data for a day (that day and the model's later ones).
- A job left with nothing to run is finished at once (`partial` when some of its days
  completed, `failed` when none did).

Every write is retried until it succeeds: a database locked by another process delays the
start, it does not abort it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

import attrs
import structlog

from aitrader.actors.admission import Admission
from aitrader.actors.modelday import end_days
from aitrader.agent.factory import check_model
from aitrader.config import SimulationConfig
from aitrader.errors import AITraderError
from aitrader.events import EventBus
from aitrader.ledger import Ledger
from aitrader.market.prices import US_DAILY, Feed, dates_with_data
from aitrader.store import Store, until_done
from aitrader.store import jobs as jobstore
from aitrader.store.jobs import DayStatus

log = structlog.get_logger(__name__)


@attrs.frozen
class Resumed:
    id: str
    config: SimulationConfig
    days: Mapping[str, tuple[str, ...]]  # model -> pending model-days, in order


def _cause(model: str, config: SimulationConfig, path: str,
           env: Mapping[str, str]) -> str | None:
    """Why `model` cannot resume with this config, or None."""
    found = config.model(model)
    if found is None:
        return f'model "{model}" is no longer in {path}'
    if not found.enabled:
        return f'model "{model}" is disabled in {path}'
    try:
        check_model(found, config, env)
    except AITraderError as exc:
        return f'model "{model}" cannot run: {exc.message}'
    return None


async def recover(store: Store, bus: EventBus, admission: Admission,
                  env: Mapping[str, str]) -> list[Resumed]:
    """Put the database back in a state the supervisor can run; return what resumes."""
    voided = await until_done(lambda: Ledger(store).void_running("recovered after a restart"),
                              what="void the attempts left running")
    await until_done(lambda: jobstore.reopen_running_days(store), what="reopen model-days")
    resumed = []
    for job in await until_done(lambda: jobstore.active_jobs(store), what="read jobs"):
        found = await _recover_job(store, bus, admission, env, job.id, job.config_path or "")
        log.info("job_recovered", job_id=job.id, voided_attempts=len(voided),
                 resumed=sum(len(d) for d in found.days.values()) if found else 0)
        if found is not None:
            resumed.append(found)
    return resumed


async def _recover_job(store: Store, bus: EventBus, admission: Admission,
                       env: Mapping[str, str], job_id: str, config_path: str
                       ) -> Resumed | None:
    pending = await until_done(partial(jobstore.pending_days, store, job_id),
                               what="read model-days")
    config: SimulationConfig | None = None
    try:
        path, config = admission.load(config_path)
        causes = {m: _cause(m, config, path, env) for m in pending}
    except AITraderError as exc:
        causes = dict.fromkeys(pending, f"cannot resume: {exc.message}")
    # the config's market (a config that cannot be read: US daily, only to say which days
    # have data; those days fail anyway)
    feed = Feed(config.market, config.frequency) if config is not None else US_DAILY
    with_data = await dates_with_data(store, feed, sorted({d for ds in pending.values()
                                                           for d in ds}))
    runnable: dict[str, tuple[str, ...]] = {}
    for model, days in pending.items():
        cause, since = causes[model], None
        if cause is None:
            gap = next((d for d in days if d not in with_data), None)
            runnable[model] = tuple(d for d in days if gap is None or d < gap)
            if gap is not None:
                cause, since = f"no market data for {gap}", gap
        if cause is not None:
            log.warning("model_days_not_resumed", job_id=job_id, model=model, cause=cause)
            await until_done(partial(end_days, store, bus, job_id, model, DayStatus.FAILED,
                                     cause, since=since, later_error=None if since else cause),
                             what="fail the model-days that cannot resume")
    runnable = {m: ds for m, ds in runnable.items() if ds}
    await until_done(partial(bus.publish, "job.status", job_id=job_id, status="resumed"),
                     what="publish job.status")
    if runnable and config is not None:
        return Resumed(job_id, config, runnable)
    status, _ = await until_done(partial(jobstore.finish_job, store, job_id, cancelled=False),
                                 what="finish the job")
    await until_done(partial(bus.publish, "job.finished", job_id=job_id, status=status.value),
                     what="publish job.finished")
    return None
