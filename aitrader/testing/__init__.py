"""What the tests and the benchmarks share: stand-ins for what lies outside the service (an
OpenAI-compatible LLM). Nothing in the service imports it."""
