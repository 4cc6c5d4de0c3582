"""Config validation: every bad field is named by its path, nothing unknown is accepted."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from aitrader.config import load_config, parse_config, resolve_config_path
from aitrader.errors import ConfigError, InvalidInput
from aitrader.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def model(**kw: Any) -> dict[str, Any]:
    return {"name": "a", "basemodel": "baseline/momentum", "signature": "a", **kw}


def problems(doc: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    found: list[str] = info.value.details.get("problems", [info.value.message])
    assert info.value.message.startswith("invalid config: ") or len(found) == 1
    return found


def test_the_shipped_config_is_valid() -> None:
    config = load_config(ROOT / "configs" / "default_config.json")
    assert [m.signature for m in config.enabled] == ["buy-and-hold", "momentum"]
    assert config.agent_config.tool_timeout == 30.0  # the default
    # written before markets existed ("market": "demo"): the US market on demo data
    assert (config.market, config.frequency, config.data) == ("us", "daily", "demo")
    assert config.starting_cash == 10000


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("demo_*.json")),
                         ids=lambda p: p.stem)
def test_the_shipped_demo_configs_are_valid(path: Path) -> None:
    """One per market and frequency but US daily (the default config), baselines only."""
    config = load_config(path)
    assert path.name == f"demo_{config.market}_{config.frequency}.json"
    assert config.data == "demo" and all(m.is_baseline for m in config.enabled)


@pytest.mark.parametrize(("doc", "market", "data", "cash"), [
    ({"market": "database"}, "us/daily", "database", "10000"),
    ({"market": "cn", "frequency": "hourly"}, "cn/hourly", "demo", "100000"),
    ({"market": "crypto", "data": "database", "agent_config": {"initial_cash": 2500.5}},
     "crypto/daily", "database", "2500.5"),
])
def test_market_frequency_and_data_source(doc: dict[str, Any], market: str, data: str,
                                          cash: str) -> None:
    config = parse_config({"models": [model()], **doc})
    assert (config.venue.label, config.data, config.starting_cash) == (market, data,
                                                                        Decimal(cash))


@pytest.mark.parametrize(("doc", "expected"), [
    ({"models": [model()], "agent_config": {"max_steps": 0}},
     ["$.agent_config.max_steps: must be greater than 0"]),
    ({"models": [model()], "agent_config": {"tool_timeout": -1}},
     ["$.agent_config.tool_timeout: must be greater than 0"]),
    ({"models": [model()], "agent_config": {"max_retries": -2}},
     ["$.agent_config.max_retries: must not be negative"]),
    ({"models": [model()], "agent_config": {"llm_timeout": "soon"}},
     ["$.agent_config.llm_timeout: invalid value for type, expected float"]),
    ({"models": [model()], "date_range": {"init_date": "2025-13-01"}},
     ["$.date_range.init_date: must be a date as YYYY-MM-DD, got '2025-13-01'"]),
    ({"models": [model()], "market": "mars"},
     ["$.market: must be one of us, cn, crypto, got 'mars'"]),
    ({"models": [model()], "market": "cn", "frequency": "weekly"},
     ["$.frequency: must be one of daily, hourly, got 'weekly'"]),
    ({"models": [model()], "data": "live"},
     ["$.data: must be 'demo' (the synthetic market) or 'database' (prices already "
      "imported or fetched)"]),
    ({"models": [model(signature="two words")]},
     ["$.models[0].signature: must be 1-64 letters, digits or . _ : + - (it names files "
      "and URL parameters)"]),
    ({"models": [{"name": "a", "signature": "a"}]},
     ["$.models[0].basemodel: required field missing"]),
    ({"models": [model()], "llm_prices": {"x": {"prompt": -1}}},
     ["$.llm_prices['x'].prompt: must not be negative"]),
])
def test_each_bad_field_is_named_by_its_path(doc: dict[str, Any],
                                             expected: list[str]) -> None:
    assert problems(doc) == expected


def test_unknown_keys_are_refused_each_by_its_path() -> None:
    """A typo must not fall back to a default silently."""
    assert sorted(problems({"models": [model(enabeld=True)], "colour": "red"})) == [
        "$.colour: unknown key (a typo? nothing reads it)",
        "$.models[0].enabeld: unknown key (a typo? nothing reads it)"]


def test_several_problems_are_listed_together() -> None:
    found = problems({"models": [model()], "agent_config": {"llm_timeout": "x"},
                      "log_config": {"path": "x"}})
    assert found == ["$.agent_config.llm_timeout: invalid value for type, expected float",
                     "$.log_config.path: unknown key (a typo? nothing reads it)"]


def test_duplicate_signatures_are_refused() -> None:
    assert problems({"models": [model(), model(name="b", basemodel="baseline/buy-and-hold")]}
                    ) == ["$.models[1].signature: 'a' is the signature of an earlier model "
                          "too"]


def test_a_config_with_no_enabled_model_is_refused() -> None:
    for models in ([], [model(enabled=False)]):
        assert problems({"models": models}) == [
            "$.models: no model is enabled: a config runs its enabled models"]


def test_an_unknown_baseline_or_agent_type_is_refused() -> None:
    assert problems({"models": [model(basemodel="baseline/magic")]}) == [
        "$.models[0].basemodel: unknown baseline 'baseline/magic'; the baselines are "
        "baseline/buy-and-hold, baseline/momentum"]
    assert problems({"agent_type": "GeniusAgent", "models": [model()]}) == [
        "$.agent_type: unknown agent type 'GeniusAgent'; the agent types are BaseAgent, "
        "LLMAgent"]
    # any other basemodel is a model name at an OpenAI-compatible provider
    assert parse_config({"models": [model(basemodel="openai/gpt-5")]}).models[0].basemodel \
        == "openai/gpt-5"


def test_not_an_object_and_not_json() -> None:
    assert problems([1, 2]) == ["a config must be a JSON object"]


def test_a_file_that_is_not_json_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "models": [,]\n}')
    with pytest.raises(ConfigError, match=r"bad\.json is not valid JSON .* at line 2"):
        load_config(bad)


def test_config_paths_stay_inside_the_configs_folder(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "ok.json").write_text("{}")
    (tmp_path / "secret.json").write_text("{}")
    assert resolve_config_path(configs, "configs/ok.json") == (configs / "ok.json").resolve()
    assert resolve_config_path(configs, "ok.json") == (configs / "ok.json").resolve()
    for outside in ("../secret.json", str(tmp_path / "secret.json"), "configs/../../x.json",
                    "", "configs/missing.json", "configs/ok.txt"):
        with pytest.raises(InvalidInput) as info:
            resolve_config_path(configs, outside)
        assert info.value.details["field"] == "config_path"
        assert str(tmp_path) not in info.value.message  # never the server's own paths


def test_the_api_token_is_trimmed_or_refused() -> None:
    """A token read with a trailing newline (a file, a secret store) is trimmed; one with a
    space, a line break or a non-ASCII character inside is refused at start, loudly."""
    assert Settings.from_env({"AITRADER_API_TOKEN": "s3cret-token\n"}).api_token == \
        "s3cret-token"
    assert Settings.from_env({"AITRADER_API_TOKEN": "  s3cret-token\r\n"}).api_token == \
        "s3cret-token"
    assert Settings.from_env({}).api_token == ""
    for bad in ("two words", "line\nbreak", "sécret", "tab\there"):
        with pytest.raises(ConfigError, match="AITRADER_API_TOKEN must be printable ASCII"):
            Settings.from_env({"AITRADER_API_TOKEN": bad})
