// Trigger the daily catch-up simulation on an aitrader service.
//
// Returns { skipped: true, last_simulation_date, ... } when every model is already up to date
// ("current"), otherwise the job: { skipped: false, job_id, status, date_range, models }.
// A job already running for the same work is returned too (the service never creates two).
// Anything else fails with a message a person can act on: the service unreachable, a wrong
// token, other work holding the models (409), a bad config or date (400).

type AiTraderApi = { base_url: string; token?: string };

async function call(api: AiTraderApi, method: string, path: string, body?: unknown) {
  const base = (api.base_url || "").replace(/\/+$/, "");
  const headers: Record<string, string> = { Accept: "application/json" };
  if (api.token) headers.Authorization = `Bearer ${api.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp: Response;
  try {
    resp = await fetch(base + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new Error(`cannot reach the aitrader service at ${base}: ${(err as Error).message}`);
  }
  const text = await resp.text();
  let doc: any = null;
  try { doc = text ? JSON.parse(text) : null; } catch { doc = null; }
  if (resp.status === 401) {
    throw new Error(`the aitrader service at ${base} refused the token (HTTP 401): check the token of the ai_trader_api resource`);
  }
  return { status: resp.status, doc, text };
}

export async function main(
  api: AiTraderApi,
  config_path: string = "configs/default_config.json",
  end_date: string = "",
  models: string[] = [],
) {
  const body: Record<string, unknown> = { config_path };
  if (end_date) body.end_date = end_date;
  if (models.length > 0) body.models = models;
  const { status, doc, text } = await call(api, "POST", "/simulate/trigger", body);
  if (status === 409) {
    const range = (doc?.current_date_range ?? []).join("..");
    throw new Error(`another simulation is running on the service (job ${doc?.current_job_id}, ${range}): ${doc?.message ?? "conflict"}`);
  }
  if (status !== 200 && status !== 202) {
    throw new Error(`the trigger was refused (HTTP ${status}): ${doc?.message ?? text.slice(0, 300)}`);
  }
  if (doc?.status === "current") {
    return {
      skipped: true,
      status: "current",
      message: doc.message,
      last_simulation_date: doc.last_simulation_date ?? null,
      next_trading_day: doc.next_trading_day ?? null,
    };
  }
  return {
    skipped: false,
    job_id: doc.job_id,
    status: doc.status,
    date_range: doc.date_range,
    models: doc.models,
    message: doc.message,
  };
}
