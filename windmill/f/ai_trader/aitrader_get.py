"""GET any read endpoint of an aitrader service and return its JSON (for ad-hoc use in
Windmill), and the HTTP helper the other Python scripts of this folder import."""

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, TypedDict


class ai_trader_api(TypedDict):
    base_url: str
    token: str


class AiTraderError(Exception):
    """A failure with a message a person can act on."""


def api_get(api: ai_trader_api, path: str, params: dict[str, Any] | None = None,
            *, missing_ok: bool = False) -> Any:
    """GET `path` (with query `params`) and decode its JSON. A 404 returns None when
    `missing_ok`; every other failure raises AiTraderError naming what went wrong."""
    base = (api.get("base_url") or "").rstrip("/")
    query = urllib.parse.urlencode({k: v for k, v in (params or {}).items()
                                    if v not in (None, "")})
    url = f"{base}{path}" + (f"?{query}" if query else "")
    headers = {"Accept": "application/json"}
    if api.get("token"):
        headers["Authorization"] = f"Bearer {api['token']}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=60) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        if exc.code == 404 and missing_ok:
            return None
        try:
            message = json.loads(exc.read() or b"{}").get("message", "")
        except ValueError:
            message = ""
        if exc.code == 401:
            raise AiTraderError(f"the aitrader service at {base} refused the token (HTTP 401): "
                                "check the token of the ai_trader_api resource") from None
        raise AiTraderError(f"GET {path} answered HTTP {exc.code}: {message}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AiTraderError(f"cannot reach the aitrader service at {base}: {reason}") from None


def main(api: ai_trader_api, path: str = "/health", query: dict = {}):  # noqa: B006
    return api_get(api, path, query)
