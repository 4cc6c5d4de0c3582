// The live dashboard: jobs with per-model, per-session progress from the WebSocket, the
// leaderboard of one market with its benchmark and index return, the portfolio value chart,
// and one model's session in detail. Hourly markets: session ids on the axes, one tick a day.
// No framework and no CDN: plain DOM, hand-written SVG. Data from the service's own API.

const $ = (sel) => document.querySelector(sel);
const TOKEN_KEY = "aitrader.token";
const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  authRequired: false,
  jobs: [],
  job: null,           // the job shown in the grid (a status document)
  perf: null,          // /results/performance
  markets: [],         // /results/markets: the markets and frequencies the models trade
  market: "",          // the one shown ("cn/hourly"); "" = the models' own (only one)
  lastSeq: null,       // the last event seen: reconnects resume after it
  seqs: [],            // every event seq seen, in order (tests and debugging read it)
  ws: null,
  retry: 0,
  stopped: false,
};
window.aitrader = state;

// -- HTTP -----------------------------------------------------------------------------------

class Unauthorized extends Error {}

async function api(path) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const resp = await fetch(path, { headers });
  if (resp.status === 401) throw new Unauthorized("the token was refused");
  if (resp.status === 404) return null;
  if (!resp.ok) throw new Error(`${path}: HTTP ${resp.status}`);
  return resp.json();
}

// -- formatting -----------------------------------------------------------------------------

const money = (v) => v == null ? "–" : v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const currency = () => state.perf?.currency || "USD";
const cash = (v) => `${money(v)} ${currency()}`;
// a session id for people: "10-09" (daily), "10-09 09:30" (hourly, in the market's own time)
const sessionLabel = (id) => id.length > 10 ? `${id.slice(5, 10)} ${id.slice(11, 16)}` : id.slice(5);
const pct = (v, digits = 2) => v == null ? "–" : `${v >= 0 ? "+" : ""}${v.toFixed(digits)}%`;
const num = (v, digits = 2) => v == null ? "–" : v.toFixed(digits);
const sign = (v) => v == null ? "" : v > 0 ? "pos" : v < 0 ? "neg" : "";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

// -- connection state -----------------------------------------------------------------------

function setConn(kind, text) {
  const c = $("#conn");
  c.className = `conn conn-${kind}`;
  c.textContent = text;
  c.dataset.state = kind;
}

// -- jobs and the progress grid -------------------------------------------------------------

async function loadJobs() {
  const doc = await api("/simulate/jobs?limit=10");
  state.jobs = doc ? doc.jobs : [];
  renderJobs();
  const shown = state.job?.job_id;
  const pick = state.jobs.find((j) => j.job_id === shown) || state.jobs[0];
  if (pick) await loadJob(pick.job_id);
}

function renderJobs() {
  const body = $("#jobs tbody");
  body.replaceChildren(...state.jobs.map((j) => {
    const p = j.progress || {};
    const done = (p.completed || 0) + (p.failed || 0);
    return el("tr", { class: "clickable" + (j.job_id === state.job?.job_id ? " selected" : ""),
                      dataset: { job: j.job_id }, onclick: () => loadJob(j.job_id).catch(handleError) },
      el("td", {}, j.job_id.slice(0, 8)),
      el("td", { class: `status-${j.status}` }, j.status),
      el("td", { title: (j.date_range || []).join(" → ") }, (j.date_range || []).map(sessionLabel).join(" → ")),
      el("td", { class: "num" }, `${done}/${p.total_model_days ?? "?"}`),
      el("td", {}, (j.started_at || j.created_at || "").replace("T", " ").slice(5, 16)));
  }));
}

async function loadJob(id) {
  const doc = await api(`/simulate/status/${encodeURIComponent(id)}`);
  if (!doc) return;
  state.job = doc;
  renderJobs();
  renderGrid();
}

function renderGrid() {
  const job = state.job;
  const p = job.progress;
  $("#job-title").textContent = `Job ${job.job_id.slice(0, 8)}: ${job.status}`;
  const done = p.completed + p.failed;
  $("#job-current").textContent = `${done} of ${p.total_model_days} model-days done` +
    (p.current?.length ? ` · now: ${p.current.map((c) => `${c.model} ${c.date}`).join(", ")}` : "");
  const models = [...new Set(p.details.map((d) => d.model))].sort();
  const days = [...new Set(p.details.map((d) => d.date))].sort();
  // a date label every fifth session; the others say their date on hover
  const head = el("tr", {}, el("th", { class: "model" }, "model"),
    ...days.map((d, i) => el("th", { class: "day", title: d }, i % 5 === 0 ? sessionLabel(d) : "")));
  const rows = models.map((m) => el("tr", {}, el("th", { class: "model" }, m), ...days.map((d) => {
    const cell = el("span", { class: "cell s-pending", title: `${m} ${d}: pending`,
                              dataset: { model: m, date: d, status: "pending" },
                              onclick: () => showDay(m, d).catch(handleError) });
    return el("td", {}, cell);
  })));
  $("#grid").replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
  for (const d of p.details) setCell(d.model, d.date, d.status);
}

function setCell(model, date, status) {
  const cell = document.querySelector(`#grid .cell[data-model="${CSS.escape(model)}"][data-date="${date}"]`);
  if (!cell) return;
  cell.className = `cell s-${status}`;
  cell.dataset.status = status;
  cell.title = `${model} ${date}: ${status}`;
}

// -- leaderboard and chart ------------------------------------------------------------------

async function loadMarkets() {
  const doc = await api("/results/markets");
  state.markets = doc ? doc.markets : [];
  const labels = state.markets.map((m) => `${m.market}/${m.frequency}`);
  if (!labels.includes(state.market)) state.market = labels.length > 1 ? labels[0] : "";
  const sel = $("#market");
  sel.replaceChildren(...state.markets.map((m) => el("option", { value: `${m.market}/${m.frequency}` },
    `${m.title} (${m.models})`)));
  sel.value = state.market;
  $("#market-pick").hidden = labels.length < 2;
}

async function loadPerformance() {
  try {
    const [key, freq] = state.market ? state.market.split("/") : [];
    state.perf = await api("/results/performance" + (key ? `?market=${key}&frequency=${freq}` : ""));
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    state.perf = null;
  }
  renderBoard();
  renderChart();
  renderDayChoices();
}

function boardRows() {
  const perf = state.perf;
  if (!perf || !perf.benchmark) return [];
  const row = (name, doc, bench) => {
    const last = doc.series[doc.series.length - 1] || {};
    return { name, bench, value: last.portfolio_value, date: last.date,
             cumulative: doc.metrics.cumulative_return * 100, daily: last.daily_return_pct,
             sharpe: doc.metrics.sharpe, mdd: doc.metrics.max_drawdown * 100 };
  };
  const rows = Object.entries(perf.models).map(([n, d]) => row(n, d, false))
    .sort((a, b) => (b.value ?? 0) - (a.value ?? 0));
  if (perf.benchmark) rows.push(row(perf.benchmark.symbol, perf.benchmark, true));
  return rows;
}

function renderBoard() {
  const rows = boardRows();
  $("#board-empty").hidden = rows.length > 0;
  const perf = state.perf;
  $("#board-range").textContent = rows.length ? `${perf.start_date} → ${perf.end_date}` : "";
  $("#board-currency").textContent = currency();
  const idx = perf?.index;
  $("#board-notes").replaceChildren(...(rows.length ? [
    el("span", {}, `benchmark: ${perf.benchmark.name || perf.benchmark.symbol}, bought at the first open in ${perf.benchmark.units || "whole"} units`),
    idx ? el("span", { id: "board-index", dataset: { value: idx.return ?? "" } },
      idx.return == null ? `index ${idx.name}: – (${idx.note})` : `index ${idx.name} since ${sessionLabel(idx.from_session)}: ${pct(idx.return * 100)}`) : "",
    el("span", {}, `annualised with ${perf.periods_per_year} sessions a year`),
    ...(perf.notes || []).map((n) => el("span", {}, n))] : []));
  $("#board tbody").replaceChildren(...rows.map((r) => el("tr", {
      class: r.bench ? "bench" : "clickable", dataset: { model: r.name },
      onclick: r.bench ? null : () => showDay(r.name, r.date).catch(handleError) },
    el("td", {}, r.bench ? `${r.name} (benchmark)` : r.name),
    el("td", { class: "num", dataset: { value: r.value } }, money(r.value)),
    el("td", { class: `num ${sign(r.cumulative)}`, dataset: { value: r.cumulative } }, pct(r.cumulative)),
    el("td", { class: `num ${sign(r.daily)}`, dataset: { value: r.daily } }, pct(r.daily)),
    el("td", { class: "num", dataset: { value: r.sharpe ?? "" } }, num(r.sharpe)),
    el("td", { class: "num neg", dataset: { value: r.mdd } }, pct(r.mdd)))));
}

const COLOURS = ["#2f6fd6", "#d23b3b", "#2e9d57", "#8e44ad", "#e67e22", "#16a085", "#c0392b", "#7f8c8d"];
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

function renderChart() {
  const box = $("#chart");
  const perf = state.perf;
  if (!perf || !perf.benchmark) { box.replaceChildren(el("p", { class: "muted" }, "No results yet.")); return; }
  const named = Object.entries(perf.models).map(([n, d]) => [n, d.series, false]);
  if (perf.benchmark) named.push([perf.benchmark.symbol, perf.benchmark.series, true]);
  const dates = [...new Set(named.flatMap(([, s]) => s.map((p) => p.date)))].sort();
  const values = named.flatMap(([, s]) => s.map((p) => p.portfolio_value));
  if (!dates.length) { box.replaceChildren(el("p", { class: "muted" }, "No results yet.")); return; }
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi === lo) { lo -= 1; hi += 1; }
  // drawn at the box's own width, so its text stays readable on a phone
  const W = Math.max(300, Math.round(box.clientWidth || 720));
  const H = Math.min(340, Math.max(200, Math.round(W * 0.45)));
  const L = 58, R = 10, T = 12, B = 28;
  const x = (d) => L + (W - L - R) * (dates.length === 1 ? 0.5 : dates.indexOf(d) / (dates.length - 1));
  const y = (v) => T + (H - T - B) * (hi - v) / (hi - lo);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img",
                            "aria-label": `Portfolio value (${currency()}) per session and model, with ${perf.benchmark.symbol}` });
  for (let k = 0; k <= 4; k++) {
    const v = lo + (hi - lo) * k / 4;
    root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e2e5ec" }));
    root.append(svg("text", { x: L - 6, y: y(v) + 4, "font-size": 11, "text-anchor": "end", fill: "#6b7385" },
      Math.round(v).toLocaleString("en-US")));
  }
  // the x axis: one tick per trading day (sessions are evenly spaced: nights and weekends
  // take no room), labelled as far apart as the width allows
  const firstOfDay = dates.filter((d, i) => i === 0 || d.slice(0, 10) !== dates[i - 1].slice(0, 10));
  let labelled = -Infinity;
  firstOfDay.forEach((d, i) => {
    root.append(svg("line", { x1: x(d), x2: x(d), y1: T, y2: H - B, stroke: "#f0f1f5", class: "day-tick" }));
    if (x(d) - labelled >= 44) {  // a label where it does not run into the previous one
      labelled = x(d);
      root.append(svg("text", { x: x(d), y: H - 8, "font-size": 11, "text-anchor": i === 0 ? "start" : "middle",
                                fill: "#6b7385", class: "day-label" }, d.slice(5, 10)));
    }
  });
  const legend = el("div", { class: "row" });
  named.forEach(([name, series, bench], i) => {
    const colour = bench ? "#555" : COLOURS[i % COLOURS.length];
    const points = series.map((p) => `${x(p.date).toFixed(1)},${y(p.portfolio_value).toFixed(1)}`).join(" ");
    root.append(svg("polyline", { points, fill: "none", stroke: colour, "stroke-width": 2,
      ...(bench ? { "stroke-dasharray": "5 4" } : {}), "data-series": name,
      "data-points": series.length, "data-last": series.length ? series[series.length - 1].portfolio_value : "" }));
    legend.append(el("span", {}, el("span", { class: "cell", style: `background:${colour}` }), ` ${name}`));
  });
  box.replaceChildren(root, legend);
}

// -- a model's day --------------------------------------------------------------------------

function renderDayChoices(model, date) {
  const perf = state.perf;
  const mSel = $("#day-model"), dSel = $("#day-date");
  const models = perf ? Object.keys(perf.models).sort() : [];
  const m = model || mSel.value || boardRows().find((r) => !r.bench)?.name || models[0];
  mSel.replaceChildren(...models.map((n) => el("option", { value: n }, n)));
  if (m) mSel.value = m;
  const dates = perf && m && perf.models[m] ? perf.models[m].series.map((p) => p.date).reverse() : [];
  const keep = date || dSel.value;
  dSel.replaceChildren(...dates.map((d) => el("option", { value: d }, d)));
  if (keep && dates.includes(keep)) dSel.value = keep;
}

async function showDay(model, date) {
  renderDayChoices(model, date);
  const m = $("#day-model").value, d = $("#day-date").value;
  const box = $("#day");
  if (!m || !d) { box.replaceChildren(el("p", { class: "muted" }, "No results yet.")); return; }
  const doc = await api(`/results?date=${encodeURIComponent(d)}&model=${encodeURIComponent(m)}&detail=full`);
  const r = doc?.results?.[0];
  if (!r) { box.replaceChildren(el("p", { class: "muted" }, `No results for ${m} on ${d}.`)); return; }
  box.dataset.model = m;
  box.dataset.date = d;
  const holdings = Object.entries(r.positions).filter(([s, n]) => s !== "CASH" && n);
  const ai = r.ai_reasoning || {};
  const tools = Object.entries(ai.tool_usage || {});
  box.replaceChildren(
    el("div", { class: "kv" },
      el("span", { class: "muted" }, "session"), el("span", { id: "day-session" }, r.session || d),
      el("span", { class: "muted" }, "portfolio value"), el("span", { id: "day-value" }, cash(r.daily_pnl.portfolio_value)),
      el("span", { class: "muted" }, "session's profit"), el("span", { class: sign(r.daily_pnl.profit) }, `${cash(r.daily_pnl.profit)} (${pct(r.daily_pnl.return_pct, 3)})`),
      el("span", { class: "muted" }, "cash"), el("span", {}, cash(r.positions.CASH))),
    el("h3", {}, `Holdings (${holdings.length})`),
    holdings.length ? el("div", { class: "scroll" }, el("table", { id: "day-holdings" },
      el("tbody", {}, ...holdings.map(([s, n]) => el("tr", {}, el("td", {}, s), el("td", { class: "num" }, String(n)))))))
      : el("p", { class: "muted" }, "all cash"),
    el("h3", {}, `Trades (${(r.trades || []).length})`),
    (r.trades || []).length ? el("div", { class: "scroll" }, el("table", { id: "day-trades" },
      el("tbody", {}, ...r.trades.map((t) => el("tr", {}, el("td", {}, t.action), el("td", {}, t.symbol),
        el("td", { class: "num" }, String(t.amount)), el("td", { class: "num" }, `@ ${t.price.toLocaleString("en-US", { maximumFractionDigits: 8 })}`),
        el("td", { class: "num" }, cash(t.total)))))))
      : el("p", { class: "muted" }, "no trades"),
    el("h3", {}, "Reasoning"),
    el("p", { class: "summary", id: "day-summary" }, ai.reasoning_summary || "(no reasoning: a rule-based model)"),
    el("p", { class: "muted" }, `${ai.total_steps ?? 0} steps · stop signal: ${ai.stop_signal_received ? "yes" : "no"}` +
      (r.llm_usage?.calls ? ` · ${r.llm_usage.calls} LLM calls, ${r.llm_usage.prompt_tokens + r.llm_usage.completion_tokens} tokens, $${r.llm_usage.cost_usd}` : "")),
    el("h3", {}, "Tool usage"),
    tools.length ? el("p", { id: "day-tools" }, tools.map(([t, n]) => `${t} × ${n}`).join(" · "))
      : el("p", { class: "muted", id: "day-tools" }, "no tool calls"));
}

// -- live events ----------------------------------------------------------------------------

let refreshTimer = null;
function refreshSoon() {  // many model-days finish together: one refresh for them
  if (refreshTimer) return;
  refreshTimer = setTimeout(async () => {
    refreshTimer = null;
    try { await loadPerformance(); } catch (err) { handleError(err); }
  }, 1000);
}

function onEvent(ev) {
  if (state.lastSeq != null && ev.seq <= state.lastSeq) return;  // already seen
  state.lastSeq = ev.seq;
  state.seqs.push(ev.seq);
  $("#event-count").textContent = String(state.seqs.length);
  $("#last-seq").textContent = String(ev.seq);
  if (ev.type.startsWith("job.")) {
    if (ev.type === "job.created") state.job = null;  // follow the new job
    loadJobs().catch(handleError);
    if (ev.type === "job.finished") { loadMarkets().then(refreshSoon).catch(handleError); }
    return;
  }
  if (state.job && ev.job_id === state.job.job_id && ev.model && ev.date) {
    if (ev.type === "model_day.started") setCell(ev.model, ev.date, "running");
    if (ev.type === "model_day.finished") setCell(ev.model, ev.date, ev.status);
    const p = state.job.progress;
    if (ev.type === "model_day.finished") {
      if (ev.status === "completed") p.completed += 1;
      if (ev.status === "failed") p.failed += 1;
      $("#job-current").textContent = `${p.completed + p.failed} of ${p.total_model_days} model-days done`;
    }
  }
  if (ev.type === "model_day.finished") refreshSoon();
}

function connect() {
  if (state.stopped) return;
  const params = new URLSearchParams();
  if (state.lastSeq != null) params.set("since", String(state.lastSeq));
  if (state.token) params.set("token", state.token);
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws?${params}`);
  state.ws = ws;
  setConn("connecting", state.retry ? `reconnecting (try ${state.retry + 1})…` : "connecting…");
  ws.onopen = () => { state.retry = 0; setConn("live", "live"); };
  ws.onmessage = (msg) => {
    try { onEvent(JSON.parse(msg.data)); } catch (err) { console.warn("bad event", err); }
  };
  ws.onclose = (e) => {
    if (state.ws !== ws || state.stopped) return;
    state.retry += 1;
    const wait = Math.min(8000, 500 * 2 ** Math.min(state.retry - 1, 4));
    setConn("offline", `offline (${e.code === 1013 ? "too slow" : "connection lost"}); retrying in ${Math.round(wait / 1000)} s`);
    setTimeout(() => {
      // a drop may hide a job that started or finished: catch up by REST, then by `since`
      loadJobs().catch(handleError);
      connect();
    }, wait);
  };
}

// -- start ----------------------------------------------------------------------------------

function handleError(err) {
  if (err instanceof Unauthorized) { askToken(state.token ? "That token was refused." : ""); return; }
  console.warn(err);
}

function askToken(message) {
  state.stopped = true;
  if (state.ws) state.ws.close();
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = "";
  $("#app").hidden = true;
  $("#login").hidden = false;
  $("#login-error").hidden = !message;
  $("#login-error").textContent = message || "";
  setConn("offline", "locked");
  $("#token").focus();
}

async function start() {
  $("#login").hidden = true;
  $("#app").hidden = false;
  state.stopped = false;
  try {
    connect();  // live first, so nothing between the REST load and the stream is missed
    await loadJobs();
    await loadMarkets();
    await loadPerformance();
    await showDay();
  } catch (err) {
    handleError(err);
  }
}

$("#login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.token = $("#token").value.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  start();
});
let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(renderChart, 150);
});
$("#market").addEventListener("change", () => {
  state.market = $("#market").value;
  loadPerformance().then(() => showDay()).catch(handleError);
});
$("#day-model").addEventListener("change", () => showDay($("#day-model").value).catch(handleError));
$("#day-date").addEventListener("change", () => showDay($("#day-model").value, $("#day-date").value).catch(handleError));

(async () => {
  const health = await fetch("/health").then((r) => r.json()).catch(() => ({}));
  state.authRequired = Boolean(health.auth_required);
  if (state.authRequired && !state.token) askToken("");
  else start();
})();
