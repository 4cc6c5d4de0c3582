"""Publication dates, the offline news backend and the Jina backend (replayed shapes)."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import pytest
from aioresponses import aioresponses

from aitrader.errors import ConfigError
from aitrader.tools.news import JinaSearch, OfflineNews, published_date, render, visible

D = date(2025, 10, 15)


@pytest.mark.parametrize(("raw", "expected"), [
    ("2025-10-01T08:19:28+00:00", date(2025, 10, 1)),
    ("2025-10-15T02:00:00Z", date(2025, 10, 14)),  # 22:00 the day before in New York
    ("2025-10-14", date(2025, 10, 14)),
    ("May 31, 2025", date(2025, 5, 31)),
    ("October 3, 2025", date(2025, 10, 3)),
    ("2 days ago", date(2025, 10, 13)),
    ("1 day ago", date(2025, 10, 14)),
    ("a week ago", date(2025, 10, 8)),
    ("3 hours ago", date(2025, 10, 15)),
    ("10 hours ago", date(2025, 10, 14)),  # 09:30 minus 10 hours
    ("yesterday", date(2025, 10, 14)),
    ("today", date(2025, 10, 15)),
    ("unknown", None), ("", None), (None, None), ("soon", None), ("2 fortnights ago", None),
    # out of range: undated, never an error that fails the whole search
    ("99999999 years ago", None), ("99999999999999999999 days ago", None),
    ("9999-12-31T23:59:59-12:00", None), ("0001-01-01T00:00:00+14:00", None),
    ("9999-12-31", date(9999, 12, 31)),  # a date all right, and later than any session
    # numeric day and month: only when it cannot be read both ways
    ("03/10/2025", None), ("10/03/2025", None), ("15/10/2025", date(2025, 10, 15)),
    ("10/15/2025", date(2025, 10, 15)), ("07/07/2025", date(2025, 7, 7)),
    ("31/02/2025", None), ("2025/10/03", date(2025, 10, 3)),
])
def test_published_date(raw: object, expected: date | None) -> None:
    """Absolute formats, and relative ones resolved against the session's opening bell."""
    assert published_date(raw, D) == expected


def test_visible_only_strictly_before_the_session() -> None:
    """The session day itself is hidden, the day before is shown, undated is hidden."""
    assert visible("2025-10-14", D) == date(2025, 10, 14)
    assert visible("2025-10-15", D) is None
    assert visible("2025-12-01", D) is None
    assert visible(None, D) is None


async def test_offline_ranks_by_words_then_recency(tmp_path: Path) -> None:
    """Title matches outrank body matches; among equals the newest comes first."""
    path = tmp_path / "n.jsonl"
    items = [
        {"date": "2025-10-01", "title": "Market wrap", "url": "a", "content": "tesla rallies"},
        {"date": "2025-10-10", "title": "Tesla deliveries", "url": "b", "content": "cars"},
        {"date": "2025-10-12", "title": "Tesla robotaxi", "url": "c", "content": "cars"},
        {"date": "2025-10-20", "title": "Tesla later", "url": "d", "content": "cars"},
        {"date": "2025-10-05", "title": "Bonds", "url": "e", "content": "yields"},
    ]
    path.write_text("\n".join(json.dumps(i) for i in items))
    news = OfflineNews(path)
    found = await news.search("Tesla", D, 3)
    assert [a.url for a in found] == ["c", "b", "a"]
    assert render("Tesla", D, []).startswith("No results for 'Tesla' published before 2025-10-15")


async def test_one_absurd_date_hides_one_item_not_the_search(tmp_path: Path) -> None:
    """Items dated "9999-12-31", "99999999 years ago" or ambiguously are skipped; the other
    items of the same search are found."""
    path = tmp_path / "n.jsonl"
    items = [{"date": "9999-12-31", "title": "Tesla far future", "url": "far"},
             {"date": "99999999 years ago", "title": "Tesla long ago", "url": "ago"},
             {"date": "03/10/2025", "title": "Tesla ambiguous", "url": "amb"},
             {"date": "2025-10-10", "title": "Tesla deliveries", "url": "ok"}]
    path.write_text("\n".join(json.dumps(i) for i in items))
    found = await OfflineNews(path).search("Tesla", D, 5)
    assert [a.url for a in found] == ["ok"]


def test_offline_bad_file_is_a_config_error(tmp_path: Path) -> None:
    """A news file that is not JSON lines says which line."""
    path = tmp_path / "n.jsonl"
    path.write_text('{"title": "ok", "date": "2025-10-01"}\nnot json\n')
    with pytest.raises(ConfigError, match="line 2"):
        OfflineNews(path)


SEARCH = re.compile(r"^https://s\.jina\.ai/\?q=.*$")


async def test_jina_filters_search_and_page_dates(mock_http: aioresponses) -> None:
    """Search results dated on/after the session or undated are never read; a page whose own
    publishedTime is later is dropped too; the key goes in the Authorization header only."""
    mock_http.get(SEARCH, payload={"code": 200, "status": 20000, "data": [
        {"title": "Old", "url": "https://news.test/old", "description": "d",
         "date": "Oct 10, 2025", "usage": {"tokens": 10}},
        {"title": "Future", "url": "https://news.test/future", "description": "d",
         "date": "Oct 20, 2025"},
        {"title": "Undated", "url": "https://news.test/undated", "description": "d"},
        {"title": "Relabelled", "url": "https://news.test/relabelled", "description": "d",
         "date": "2025-10-01"},
        {"title": "Second", "url": "https://news.test/second", "description": "d",
         "date": "2 days ago"},
    ]})
    mock_http.get("https://r.jina.ai/https://news.test/old", payload={"code": 200, "data": {
        "title": "Old page", "url": "https://news.test/old", "description": "desc",
        "content": "body text", "publishedTime": "2025-10-10T12:00:00Z"}})
    mock_http.get("https://r.jina.ai/https://news.test/relabelled", payload={"code": 200,
        "data": {"title": "Relabelled", "url": "https://news.test/relabelled",
                 "content": "x", "publishedTime": "2025-10-16T12:00:00Z"}})
    mock_http.get("https://r.jina.ai/https://news.test/second", payload={"code": 200, "data": {
        "title": "Second page", "url": "https://news.test/second", "content": "y"}})
    async with aiohttp.ClientSession() as http:
        found = await JinaSearch(http, "jina-secret").search("nvidia", D, 3)
    assert [(a.url, a.published_on) for a in found] == [
        ("https://news.test/old", date(2025, 10, 10)),
        ("https://news.test/second", date(2025, 10, 13))]
    read = [str(u) for (_, u) in mock_http.requests]
    assert not any("future" in u or "undated" in u for u in read)
    for reqs in mock_http.requests.values():
        for req in reqs:
            assert req.kwargs["headers"]["Authorization"] == "Bearer jina-secret"


async def test_jina_errors_surface(mock_http: aioresponses) -> None:
    """A failing search service raises (the tool turns it into a message for the model)."""
    mock_http.get(SEARCH, status=503)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(RuntimeError, match="HTTP 503"):
            await JinaSearch(http, "k").search("x", D, 3)
    with pytest.raises(ConfigError):
        JinaSearch(None, "")  # type: ignore[arg-type]


@pytest.mark.parametrize(("raw", "shown"), [
    ("2025-10-14T17:29:59Z", True),  # the evening before, in Beijing
    ("2025-10-15T01:29:59Z", True),
    ("2025-10-15T01:30:00Z", False),  # the session's own instant
    ("2025-10-14T23:00:00-04:00", False),  # New York's evening: Beijing's 11:00
    ("2025-10-13", True),  # a whole date behind it everywhere
    ("2025-10-14", False),  # 14 Oct still runs in UTC-12 at 01:30 UTC on the 15th
    ("2025-10-14T23:00:00", False),  # a wall clock without a zone: only its date counts
    ("3 hours ago", True), ("just now", False), ("9999-12-31T23:59:59-12:00", False),
])
def test_other_markets_cut_at_the_session_instant(raw: str, shown: bool) -> None:
    """A Beijing session starting 09:30 on 15 Oct 2025 (01:30 UTC)."""
    cutoff = datetime(2025, 10, 15, 1, 30, tzinfo=UTC)
    assert (visible(raw, cutoff) is not None) is shown
