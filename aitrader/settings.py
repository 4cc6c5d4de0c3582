"""Service settings from the environment (the seed's variable names), read once into a frozen value.

Nothing reads os.environ after start-up: the value is passed to whoever needs it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import attrs

from aitrader.errors import ConfigError

TOOL_SERVERS = ("math", "search", "trade", "price")
# AI-Trader's variable for each server's port, and its default.
PORT_VARS = {
    "math": ("MATH_HTTP_PORT", 8000),
    "search": ("SEARCH_HTTP_PORT", 8001),
    "trade": ("TRADE_HTTP_PORT", 8002),
    "price": ("GETPRICE_HTTP_PORT", 8003),
}


def _token(env: Mapping[str, str], name: str) -> str:
    """A bearer token: surrounding whitespace (the newline a file or a secret store leaves)
    is trimmed; anything a client could not send in a header is refused at start."""
    token = env.get(name, "").strip()
    if not all(" " < c < "\x7f" for c in token):
        raise ConfigError(f"{name} must be printable ASCII with no spaces or line breaks "
                          "inside (clients send it in an HTTP header)", field=name)
    return token


def _int(env: Mapping[str, str], name: str, default: int, *, lo: int = 0, hi: int = 2**31) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}", field=name) from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}", field=name)
    return value


@attrs.frozen(kw_only=True)
class Settings:
    data_dir: Path = Path("data")
    db_path: Path = Path("data/aitrader.db")
    mcp_host: str = "127.0.0.1"
    ports: Mapping[str, int] = attrs.field(factory=lambda: {k: v[1] for k, v in PORT_VARS.items()})
    alphavantage_api_key: str = attrs.field(default="", repr=False)
    jina_api_key: str = attrs.field(default="", repr=False)
    search_backend: str = "offline"
    news_file: Path = Path("data/news.jsonl")
    search_results: int = 3
    demo_seed: int = 20251001
    initial_cash: str = "10000"
    api_host: str = "0.0.0.0"
    api_port: int = 8080
    api_token: str = attrs.field(default="", repr=False)
    configs_dir: Path = Path("configs")
    max_concurrent_jobs: int = 1
    max_body_bytes: int = 64 * 1024
    db_busy_timeout_ms: int = 10_000
    min_free_mb: int = 100

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("AITRADER_DATA_DIR", "data"))
        jina = env.get("JINA_API_KEY", "")
        backend = env.get("AITRADER_SEARCH_BACKEND", "").strip().lower() or (
            "jina" if jina else "offline"
        )
        if backend not in ("jina", "offline"):
            raise ConfigError(
                f"AITRADER_SEARCH_BACKEND must be 'jina' or 'offline', got {backend!r}",
                field="AITRADER_SEARCH_BACKEND",
            )
        if backend == "jina" and not jina:
            raise ConfigError(
                "AITRADER_SEARCH_BACKEND=jina needs JINA_API_KEY", field="JINA_API_KEY"
            )
        return cls(
            data_dir=data_dir,
            db_path=Path(env.get("AITRADER_DB", str(data_dir / "aitrader.db"))),
            mcp_host=env.get("AITRADER_MCP_HOST", "127.0.0.1"),
            ports={
                name: _int(env, var, default, lo=1, hi=65535)
                for name, (var, default) in PORT_VARS.items()
            },
            alphavantage_api_key=env.get("ALPHAADVANTAGE_API_KEY", "")
            or env.get("ALPHAVANTAGE_API_KEY", ""),
            jina_api_key=jina,
            search_backend=backend,
            news_file=Path(env.get("AITRADER_NEWS_FILE", str(data_dir / "news.jsonl"))),
            search_results=_int(env, "AITRADER_SEARCH_RESULTS", 3, lo=1, hi=20),
            demo_seed=_int(env, "AITRADER_DEMO_SEED", 20251001),
            api_host=env.get("API_HOST", "0.0.0.0"),
            api_port=_int(env, "API_PORT", 8080, lo=0, hi=65535),
            api_token=_token(env, "AITRADER_API_TOKEN"),
            configs_dir=Path(env.get("AITRADER_CONFIGS_DIR", "configs")),
            max_concurrent_jobs=_int(env, "MAX_CONCURRENT_JOBS", 1, lo=1, hi=64),
            db_busy_timeout_ms=_int(env, "AITRADER_DB_BUSY_TIMEOUT_MS", 10_000, lo=1,
                                    hi=600_000),
            min_free_mb=_int(env, "AITRADER_MIN_FREE_MB", 100),
        )

    def tool_url(self, server: str) -> str:
        return f"http://{self.mcp_host}:{self.ports[server]}"
