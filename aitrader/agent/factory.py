"""Which agent trades for a model, and whether it can.

A `basemodel` under `baseline/` selects a rule-based model; any other model is an LLM, whose
class `agent_type` names. `check_model` answers "can this model run?" (an LLM needs an API
key) without building anything, so a trigger can refuse a model up front cheaply;
`make_agent` builds the agent, once per model per job, in the actor that runs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx

from aitrader.agent.base import BaseAgent
from aitrader.agent.baseline import BASELINES
from aitrader.agent.llm import LLMAgent, credentials
from aitrader.agent.providers import Providers
from aitrader.agent.recorder import Recorder
from aitrader.config import ModelConfig, SimulationConfig
from aitrader.events import EventBus
from aitrader.ledger import Ledger
from aitrader.store import Store

AGENT_TYPES: dict[str, type[LLMAgent]] = {"BaseAgent": LLMAgent, "LLMAgent": LLMAgent}


def check_model(model: ModelConfig, config: SimulationConfig, env: Mapping[str, str]) -> None:
    """ConfigError saying why the model cannot run, or nothing. (That its baseline or agent
    type exists, the config's validation has already said.)"""
    if not model.is_baseline:
        credentials(model, env)


def make_agent(model: ModelConfig, config: SimulationConfig, *, store: Store, ledger: Ledger,
               env: Mapping[str, str], bus: EventBus | None = None,
               http: httpx.AsyncClient | None = None,
               providers: Providers | None = None) -> BaseAgent:
    """The agent for a model (see `check_model` for what makes it fail); an LLM agent talks
    to its API through `http`, a client its actor owns."""
    check_model(model, config, env)
    if model.is_baseline:
        return BASELINES[model.basemodel](model, config, ledger)
    recorder = Recorder(store, model.signature, log_root=Path(config.log_config.log_path),
                        price=config.llm_prices.get(model.basemodel), bus=bus)
    return AGENT_TYPES[config.agent_type](model, config, ledger, store=store,
                                          recorder=recorder, env=env, http=http,
                                          providers=providers)
