"""Agents: what trades a model-day. LLM agents and rule-based baselines share one interface."""
