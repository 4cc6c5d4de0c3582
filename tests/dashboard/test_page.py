"""The dashboard page in headless Chromium against a live service with the token on: it asks
for the token, follows a job live over the WebSocket, survives a dropped connection without
losing or repeating an event, and shows the leaderboard, the chart and a model's day exactly
as the API says. Screenshots at desktop and phone widths go to test-artifacts/."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp

from tests.live import TOKEN, Service

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def wait_until(page: Any, js: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = page.evaluate(js)
        if value:
            return value
        assert time.monotonic() < deadline, f"never true: {js}"
        page.wait_for_timeout(100)


async def stored_seqs(service: Service, after: int, upto: int) -> list[int]:
    """Every event the service stored in (after, upto], read back over the WebSocket."""
    seqs: list[int] = []
    url = service.base.replace("http", "ws") + f"/ws?since={after}&token={TOKEN}"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        async for msg in ws:
            seq = int(msg.json()["seq"])
            if seq > upto:
                break
            seqs.append(seq)
            if seq == upto:
                break
    return seqs


class Console:
    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("response", lambda r: self.errors.append(f"HTTP {r.status} {r.url}")
                if r.status >= 400 else None)


def test_the_dashboard_live(browser: Any, service: Service) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    console = Console(page)
    routes: list[Any] = []

    def through(route: Any) -> None:  # the page's WebSocket, passed through (and droppable)
        route.connect_to_server()
        routes.append(route)

    page.route_web_socket("**/ws*", through)
    page.goto(service.base + "/")
    page.wait_for_selector("#login:not([hidden])")  # auth is on: it asks first
    page.fill("#token", TOKEN)
    page.click("#login-form button")
    wait_until(page, "document.querySelector('#conn').dataset.state === 'live'")

    job = service.call("POST", "/simulate/trigger", {"config_path": "configs/slow.json"})
    assert job["status"] == "accepted"
    job_id = job["job_id"]
    # live progress: the new job appears and its cells turn as model-days finish
    page.wait_for_selector(f"#jobs tr[data-job='{job_id}']")
    wait_until(page, "document.querySelectorAll('#grid .cell[data-status=completed]').length >= 2")
    assert service.call("GET", f"/simulate/status/{job_id}")["status"] == "running"
    assert page.locator("#grid .cell").count() == 22  # one model x 22 sessions

    # drop the connection mid-job; the page says so, reconnects with `since`, catches up
    first_seq = page.evaluate("window.aitrader.seqs[0]")
    routes[-1].close(code=1006, reason="dropped by the test")
    wait_until(page, "document.querySelector('#conn').dataset.state === 'offline'", 10)
    wait_until(page, "document.querySelector('#conn').dataset.state === 'live'", 20)
    assert len(routes) == 2 and "since=" in routes[-1].url
    view = service.wait_job(job_id)
    assert view["status"] == "completed"
    wait_until(page, "document.querySelectorAll('#grid .cell[data-status=completed]').length "
                     "=== 22", 30)
    last = wait_until(page, "(() => { const s = window.aitrader.seqs; const ok = "
                            "document.querySelector('#job-title').textContent.includes("
                            "'completed'); return ok && s[s.length - 1]; })()", 30)
    seen = page.evaluate("window.aitrader.seqs")
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
        stored = pool.submit(asyncio.run, stored_seqs(service, first_seq - 1, last)).result()
    assert seen == stored  # every event once, in order

    # the leaderboard and the chart say what /results/performance says
    perf = service.call("GET", "/results/performance")  # the job is over: this is final
    final = perf["models"]["slow"]["series"][-1]["portfolio_value"]
    wait_until(page, "(document.querySelector('#board tr[data-model=slow] td[data-value]') "
                     f"|| {{}}).dataset?.value === '{final}'", 15)
    board = page.evaluate("""[...document.querySelectorAll('#board tbody tr')].map(r => ({
        model: r.dataset.model,
        values: [...r.querySelectorAll('td[data-value]')].map(td => td.dataset.value)}))""")
    expected = {}
    for name, doc in [*perf["models"].items(), ("QQQ", perf["benchmark"])]:
        last_point = doc["series"][-1]
        m = doc["metrics"]
        expected[name] = [last_point["portfolio_value"], m["cumulative_return"] * 100,
                          last_point["daily_return_pct"], m["sharpe"], m["max_drawdown"] * 100]
    assert [r["model"] for r in board][-1] == "QQQ"
    for row in board:
        want = expected[row["model"]]
        got = [float(v) if v != "" else None for v in row["values"]]
        assert got[0] == want[0] and got[2] == want[2], row
        for g, w in zip(got[1:], want[1:], strict=True):
            assert (g is None and w is None) or abs(g - w) < 1e-9, (row, want)
    series = page.evaluate("""[...document.querySelectorAll('#chart polyline')].map(p => [
        p.dataset.series, Number(p.dataset.points), Number(p.dataset.last)])""")
    assert {s[0] for s in series} == set(perf["models"]) | {"QQQ"}
    for name, points, last_value in series:
        doc = perf["benchmark"] if name == "QQQ" else perf["models"][name]
        assert points == len(doc["series"]) and last_value == doc["series"][-1]["portfolio_value"]

    # a model's day: holdings, trades, reasoning and tool usage, as /results (full) says
    page.click("#board tr[data-model=slow]")
    wait_until(page, "document.querySelector('#day').dataset.model === 'slow'")
    day = page.evaluate("document.querySelector('#day').dataset.date")
    full = service.call("GET", f"/results?date={day}&model=slow&detail=full")["results"][0]
    summary = page.inner_text("#day-summary")
    assert summary == full["ai_reasoning"]["reasoning_summary"]
    tools = page.inner_text("#day-tools")
    for tool, n in full["ai_reasoning"]["tool_usage"].items():
        assert f"{tool} \u00d7 {n}" in tools  # the page writes "tool times n"
    trades = page.locator("#day-trades tr").count() if full["trades"] else 0
    assert trades == len(full["trades"])
    held = {s for s, n in full["positions"].items() if s != "CASH" and n}
    if held:
        assert {r.split("\t")[0] for r in
                page.inner_text("#day-holdings").splitlines()} == held
    page.screenshot(path=str(ARTIFACTS / "dashboard-desktop.png"), full_page=True)

    # phone width: no sideways scrolling of the page, everything still there
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                device_scale_factor=2)
    mobile = phone.new_page()
    mobile_console = Console(mobile)
    mobile.goto(service.base + "/")
    mobile.fill("#token", TOKEN)
    mobile.click("#login-form button")
    wait_until(mobile, "document.querySelectorAll('#board tbody tr').length >= 2")
    wait_until(mobile, "document.querySelector('#day').dataset.model !== undefined")
    assert mobile.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    mobile.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
    phone.close()
    context.close()
    assert console.errors == [] and mobile_console.errors == []


def test_a_wrong_token_is_asked_again(browser: Any, service: Service) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(service.base + "/")
    page.fill("#token", "not-the-token")
    page.click("#login-form button")
    page.wait_for_selector("#login-error:not([hidden])")
    assert page.inner_text("#login-error") == "That token was refused."
    assert page.evaluate("sessionStorage.getItem('aitrader.token')") is None
    context.close()


def test_an_hourly_market_beside_the_daily_one(browser: Any, service: Service) -> None:
    """With models in two markets the page offers a market selector; the SSE 50 hourly board
    shows CNY, the replica benchmark, the index return, and an axis with one tick a day."""
    env = {**service.env}
    done = subprocess.run([sys.executable, "-m", "aitrader", "prices", "demo", "--market", "cn",
                           "--frequency", "hourly", "--start", "2025-09-01", "--end",
                           "2025-10-15"], env=env, capture_output=True, text=True,
                          cwd=service.configs.parent)
    assert done.returncode == 0, done.stderr
    (service.configs / "cn_hourly.json").write_text(json.dumps({
        "market": "cn", "frequency": "hourly", "data": "database",
        "date_range": {"init_date": "2025-09-30"},
        "models": [{"name": "bh", "basemodel": "baseline/buy-and-hold", "signature": "bh-cn"}]}))
    job = service.call("POST", "/simulate/trigger", {
        "config_path": "configs/cn_hourly.json", "start_date": "2025-10-09",
        "end_date": "2025-10-15"})
    assert service.wait_job(job["job_id"])["status"] == "completed"
    markets = service.call("GET", "/results/markets")["markets"]
    assert [(m["market"], m["frequency"]) for m in markets] == [("cn", "hourly"),
                                                                 ("us", "daily")]
    perf = service.call("GET", "/results/performance?market=cn&frequency=hourly")

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    console = Console(page)
    page.goto(service.base + "/")
    page.fill("#token", TOKEN)
    page.click("#login-form button")
    page.wait_for_selector("#market-pick:not([hidden])")
    page.select_option("#market", "cn/hourly")
    wait_until(page, "document.querySelector('#board tr[data-model=\"bh-cn\"]') !== null")
    assert page.inner_text("#board-currency") == "CNY"
    rows = page.evaluate("[...document.querySelectorAll('#board tbody tr')].map(r => "
                         "r.dataset.model)")
    assert rows == ["bh-cn", "SSE50-replica"]
    index = page.evaluate("document.querySelector('#board-index').dataset.value")
    assert float(index) == perf["index"]["return"]
    assert "968 sessions a year" in page.inner_text("#board-notes")
    points = page.evaluate("Number(document.querySelector('#chart polyline').dataset.points)")
    assert points == len(perf["models"]["bh-cn"]["series"]) == 1 + 5 * 4
    ticks = page.evaluate("[...document.querySelectorAll('#chart .day-label')]"
                          ".map(t => t.textContent)")
    # one tick per trading day, not one per session (the init date's baseline is too close
    # to the first session's day to be labelled too)
    assert ticks == ["09-30", "10-10", "10-13", "10-14", "10-15"], ticks
    assert page.locator("#chart .day-tick").count() == 6
    page.select_option("#day-model", "bh-cn")
    wait_until(page, "document.querySelector('#day').dataset.model === 'bh-cn'")
    session = page.evaluate("document.querySelector('#day').dataset.date")
    assert session == "2025-10-15T14:00:00+08:00"  # the latest session, with its + intact
    assert page.inner_text("#day-value").endswith(" CNY")
    page.screenshot(path=str(ARTIFACTS / "dashboard-cn-hourly.png"), full_page=True)
    context.close()
    assert console.errors == []
