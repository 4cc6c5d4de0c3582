"""Simulation configs (`configs/*.json`): AI-Trader's shape, validated into attrs classes.

Every bad field is reported with its path (`$.models[1].signature: ...`); unknown keys are
refused so a typo does not silently fall back to a default. A config path given by a client
must resolve inside the configs folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError
from cattrs.v import format_exception

from aitrader import markets
from aitrader.errors import ConfigError, InvalidInput
from aitrader.market.calendar import parse_date
from aitrader.markets import Market

BASELINE_PREFIX = "baseline/"
_SIGNATURE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}$")


class _Invalid(ValueError):
    """A validator's own message about one field, shown with that field's path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _positive(_: Any, attr: attrs.Attribute, value: float) -> None:  # type: ignore[type-arg]
    if value <= 0:
        raise _Invalid(attr.name, "must be greater than 0")


def _non_negative(_: Any, attr: attrs.Attribute, value: float) -> None:  # type: ignore[type-arg]
    if value < 0:
        raise _Invalid(attr.name, "must not be negative")


def _iso_date(_: Any, attr: attrs.Attribute, value: str | None) -> None:  # type: ignore[type-arg]
    if value is not None:
        try:
            parse_date(value, field=attr.name)
        except InvalidInput:
            raise _Invalid(attr.name, f"must be a date as YYYY-MM-DD, got {value[:40]!r}") \
                from None


def _one_of(choices: tuple[str, ...]) -> Any:
    def check(_: Any, attr: attrs.Attribute, value: str) -> None:  # type: ignore[type-arg]
        if value not in choices:
            raise _Invalid(attr.name, f"must be one of {', '.join(choices)}, got "
                           f"{value[:20]!r}")
    return check


@attrs.frozen(kw_only=True)
class DateRange:
    init_date: str = attrs.field(default="2025-01-02", validator=_iso_date)
    end_date: str | None = attrs.field(default=None, validator=_iso_date)


@attrs.frozen(kw_only=True)
class ModelConfig:
    name: str
    basemodel: str = attrs.field()
    signature: str = attrs.field()
    enabled: bool = True
    openai_base_url: str | None = None
    openai_api_key: str | None = attrs.field(default=None, repr=False)

    @signature.validator
    def _check_signature(self, _: attrs.Attribute, value: str) -> None:  # type: ignore[type-arg]
        if not _SIGNATURE.match(value):
            raise _Invalid("signature", "must be 1-64 letters, digits or . _ : + - (it names "
                           "files and URL parameters)")

    @basemodel.validator
    def _check_basemodel(self, _: attrs.Attribute, value: str) -> None:  # type: ignore[type-arg]
        from aitrader.agent.baseline import BASELINES  # the classes import this module

        if value.startswith(BASELINE_PREFIX) and value not in BASELINES:
            raise _Invalid("basemodel", f"unknown baseline {value[:64]!r}; the baselines are "
                           f"{', '.join(sorted(BASELINES))}")

    @property
    def is_baseline(self) -> bool:
        return self.basemodel.startswith(BASELINE_PREFIX)


@attrs.frozen(kw_only=True)
class AgentConfig:
    max_steps: int = attrs.field(default=30, validator=_positive)
    max_retries: int = attrs.field(default=3, validator=_non_negative)
    base_delay: float = attrs.field(default=1.0, validator=_non_negative)
    initial_cash: float | None = attrs.field(  # None: the market's starting cash
        default=None, validator=attrs.validators.optional(_positive))
    llm_timeout: float = attrs.field(default=60.0, validator=_positive)
    tool_timeout: float = attrs.field(default=30.0, validator=_positive)
    model_day_timeout: float = attrs.field(default=900.0, validator=_positive)


@attrs.frozen(kw_only=True)
class LogConfig:
    log_path: str = "./data/agent_data"


@attrs.frozen(kw_only=True)
class Price:
    """USD per million tokens."""

    prompt: float = attrs.field(default=0.0, validator=_non_negative)
    completion: float = attrs.field(default=0.0, validator=_non_negative)


@attrs.frozen(kw_only=True)
class ProviderLimits:
    """One OpenAI-compatible API's limits, shared by every model that calls it (None: no
    limit)."""

    max_concurrent: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(_positive))
    requests_per_minute: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(_positive))


DATA_SOURCES = ("demo", "database")


@attrs.frozen(kw_only=True)
class SimulationConfig:
    """`market` and `frequency` name what is traded (MARKETS.md); `data` where its prices
    come from: "demo" (the synthetic market, generated as needed) or "database" (imported or
    fetched). Configs from before markets existed said `"market": "demo"` or "database": that
    still reads as the US market with that data source."""

    agent_type: str = attrs.field(default="BaseAgent")
    market: str = attrs.field(default="us", validator=_one_of(markets.KNOWN))
    frequency: str = attrs.field(default="daily", validator=_one_of(markets.FREQUENCIES))
    data: str = attrs.field(default="demo")
    date_range: DateRange = attrs.Factory(DateRange)
    models: tuple[ModelConfig, ...] = attrs.field(default=())
    agent_config: AgentConfig = attrs.Factory(AgentConfig)
    log_config: LogConfig = attrs.Factory(LogConfig)
    llm_prices: Mapping[str, Price] = attrs.Factory(dict)
    # by base URL (e.g. "https://api.openai.com/v1"): limits every actor shares
    providers: Mapping[str, ProviderLimits] = attrs.Factory(dict)

    @agent_type.validator
    def _check_agent_type(self, _: attrs.Attribute, value: str) -> None:  # type: ignore[type-arg]
        from aitrader.agent.factory import AGENT_TYPES  # the agents import this module

        if value not in AGENT_TYPES:
            raise _Invalid("agent_type", f"unknown agent type {value[:64]!r}; the agent "
                           f"types are {', '.join(sorted(AGENT_TYPES))}")

    @data.validator
    def _check_data(self, _: attrs.Attribute, value: str) -> None:  # type: ignore[type-arg]
        if value not in DATA_SOURCES:
            raise _Invalid("data", "must be 'demo' (the synthetic market) or 'database' "
                           "(prices already imported or fetched)")

    @property
    def venue(self) -> Market:
        """The Market value this config trades."""
        return markets.get(self.market, self.frequency)

    @property
    def starting_cash(self) -> Decimal:
        """The configured initial cash, else the market's (USD 10,000, CNY 100,000, ...)."""
        cash = self.agent_config.initial_cash
        return Decimal(str(cash)) if cash is not None else self.venue.starting_cash

    @models.validator
    def _check_models(self, _: attrs.Attribute, value: tuple[ModelConfig, ...]) -> None:  # type: ignore[type-arg]
        seen: set[str] = set()
        for i, m in enumerate(value):
            if m.signature in seen:
                raise _Invalid(f"models[{i}].signature",
                               f"{m.signature!r} is the signature of an earlier model too")
            seen.add(m.signature)
        if not any(m.enabled for m in value):
            raise _Invalid("models", "no model is enabled: a config runs its enabled models")

    @property
    def enabled(self) -> list[ModelConfig]:
        return [m for m in self.models if m.enabled]

    def model(self, signature: str) -> ModelConfig | None:
        return next((m for m in self.models if m.signature == signature), None)


_converter = cattrs.Converter(forbid_extra_keys=True)
_MARK = "\x00"


def _format(exc: BaseException, type_: type | None) -> str:
    if isinstance(exc, _Invalid):  # the field goes onto the path below
        return f"{_MARK}{exc.field}{_MARK}{exc}"
    if isinstance(exc, ForbiddenExtraKeysError):  # one problem per unknown key
        return "\n".join(f"{_MARK}{key}{_MARK}unknown key (a typo? nothing reads it)"
                         for key in sorted(exc.extra_fields))
    if isinstance(exc, InvalidInput):
        return exc.message
    return format_exception(exc, type_)


def _problems(exc: BaseException) -> list[str]:
    """Each problem as `<path>: <what is wrong>`, the path down to the bad field."""
    if not isinstance(exc, ClassValidationError | ForbiddenExtraKeysError):
        return [str(exc)]
    out = []
    for line in cattrs.transform_error(exc, format_exception=_format):
        messages, _, path = line.rpartition(" @ ")
        for message in messages.split("\n"):
            where = path
            if message.startswith(_MARK):
                field, message = message[1:].split(_MARK, 1)
                where = f"{path}.{field}"
            out.append(f"{where}: {message}")
    return out


def parse_config(doc: object) -> SimulationConfig:
    """A validated config, or ConfigError listing every bad field with its path."""
    if not isinstance(doc, Mapping):
        raise ConfigError("a config must be a JSON object")
    doc = dict(doc)
    if doc.get("market") in DATA_SOURCES and "data" not in doc:  # a config from before markets
        doc["data"], doc["market"] = doc["market"], "us"
    try:
        return _converter.structure(doc, SimulationConfig)
    except (ClassValidationError, ForbiddenExtraKeysError, ValueError, TypeError) as exc:
        problems = _problems(exc)
        raise ConfigError("invalid config: " + "; ".join(problems), problems=problems) from None


def resolve_config_path(configs_dir: Path, requested: str) -> Path:
    """A client's `config_path` as a file inside `configs_dir`, or InvalidInput.

    Accepts "configs/x.json" or "x.json"; refuses absolute paths, `..` escapes and links that
    lead outside. The message never shows the server's own paths.
    """
    text = str(requested).strip()
    if not text or len(text) > 255 or "\x00" in text:
        raise InvalidInput("config_path must name a .json file in configs/",
                           field="config_path")
    rel = Path(text)
    if rel.parts and rel.parts[0] == configs_dir.name:
        rel = Path(*rel.parts[1:]) if len(rel.parts) > 1 else Path()
    root = configs_dir.resolve()
    target = (root / rel).resolve()
    if rel.is_absolute() or not target.is_relative_to(root) or target == root:
        raise InvalidInput("config_path must stay inside configs/", field="config_path")
    if target.suffix != ".json" or not target.is_file():
        raise InvalidInput(f"config_path {text[:80]!r} is not a config in configs/",
                           field="config_path")
    return target


def load_config(path: Path) -> SimulationConfig:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path.name} is not valid JSON ({exc.msg} at line {exc.lineno})"
                          ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path.name} is not UTF-8 text") from None
    except RecursionError:
        raise ConfigError(f"{path.name} is nested too deeply") from None
    except ValueError as exc:  # e.g. a number beyond Python's digit limit
        raise ConfigError(f"{path.name} is not valid JSON ({str(exc)[:80]})") from None
    except OSError:
        raise ConfigError(f"cannot read the config {path.name}") from None
    return parse_config(doc)
