"""Whether a trigger becomes a job: its config loaded (inside configs/), its models checked
(they exist, are enabled, and can run), its days planned (`planning`), and the work compared
with the jobs already running. Reads only; the supervisor creates the job."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import attrs

from aitrader.actors.messages import AnswerKind, JobRequest, TriggerAnswer
from aitrader.actors.planning import (
    Plan,
    last_simulated,
    plan,
    requested_dates,
    same_work,
)
from aitrader.agent.factory import check_model
from aitrader.config import ModelConfig, SimulationConfig, load_config, resolve_config_path
from aitrader.errors import Conflict, InvalidInput
from aitrader.ledger import Ledger
from aitrader.market.prices import Feed, latest_session
from aitrader.markets import BenchmarkKind, Market
from aitrader.store import Store
from aitrader.store import jobs as jobstore


@attrs.frozen
class NewJob:
    config_path: str  # as the job records it: "configs/<file>"
    config: SimulationConfig
    plan: Plan


def _today() -> date:
    return datetime.now(UTC).date()


async def latest_with_data(store: Store, market: Market) -> str | None:
    """The latest session of the market's feed with data: the benchmark series' where it
    has one (QQQ, the SSE 50 index), else any symbol's."""
    series = market.benchmark.symbol if market.benchmark.kind is BenchmarkKind.SERIES \
        else None
    return await latest_session(store, Feed(market.key, market.frequency), series)


class Admission:
    def __init__(self, *, store: Store, configs_dir: Path, env: Mapping[str, str],
                 max_jobs: int, today: Callable[[], date] = _today) -> None:
        self._store = store
        self._ledger = Ledger(store)
        self._configs = configs_dir
        self._env = env
        self._max_jobs = max_jobs
        self._today = today

    def load(self, config_path: str) -> tuple[str, SimulationConfig]:
        """The config a client names (InvalidInput/ConfigError if it cannot be used), with the
        path a job records."""
        path = resolve_config_path(self._configs, config_path)
        label = f"{self._configs.name}/{path.relative_to(self._configs.resolve())}"
        return label, load_config(path)

    def models(self, config: SimulationConfig, wanted: Sequence[str] | None
               ) -> list[ModelConfig]:
        """The models a trigger asks for (every enabled one by default), each able to run."""
        if wanted is None:
            models = config.enabled
        else:
            models = []
            for sig in wanted:
                m = config.model(sig)
                if m is None:
                    raise InvalidInput(f"unknown model {sig[:64]!r}", field="models")
                if not m.enabled:
                    raise InvalidInput(f"model {sig!r} is disabled in the config",
                                       field="models")
                models.append(m)
        if not models:
            raise InvalidInput("no enabled models to run", field="models")
        for m in models:  # a model that cannot run (no key, bad class) is refused up front
            check_model(m, config, self._env)
        return models

    async def admit(self, req: JobRequest) -> NewJob | TriggerAnswer:
        """A new job to create, or the answer when there is none to create (nothing to do,
        or the same work already running); Conflict or InvalidInput otherwise."""
        path, config = self.load(req.config_path)
        sigs = [m.signature for m in self.models(config, req.models)]
        start, end = requested_dates(req.start_date, req.end_date, today=self._today())
        market = config.venue
        latest = await latest_with_data(self._store, market)
        done = await self._ledger.last_completed_of(sigs)
        work = plan(market, sigs, init_date=date.fromisoformat(config.date_range.init_date),
                    config_end=date.fromisoformat(config.date_range.end_date)
                    if config.date_range.end_date else None,
                    start=start, end=end, latest=latest, last_completed=done)
        if not work.days:
            last = last_simulated(done)
            nxt = market.next_session(latest) if latest else None
            return TriggerAnswer(AnswerKind.CURRENT, message="every model is up to date with "
                                 "the latest session with data",
                                 last_simulation_date=last,
                                 next_trading_day=nxt.id if nxt else None)
        existing = same_work(work, path, await jobstore.active_jobs(self._store),
                             self._max_jobs)
        if existing is not None:
            return TriggerAnswer(AnswerKind.EXISTING, existing,
                                 f"the same work is already {existing.status}")
        return NewJob(path, config, work)

    async def retry_request(self, job_id: str) -> JobRequest:
        """The request that runs a finished job's failed and cancelled model-days again."""
        job = await jobstore.get_job(self._store, job_id)
        if job.active:
            raise Conflict(f"job {job_id} is still {job.status}")
        again = await jobstore.models_to_retry(self._store, job_id)
        if not again:
            raise InvalidInput(f"job {job_id} has no failed or cancelled model-days")
        return JobRequest(job.config_path or "", None, job.date_end, tuple(again))
