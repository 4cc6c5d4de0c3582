// One status call for a simulation job: whether it is done, and its progress.
//
// With fail_unless_succeeded, a job that ended failed or cancelled (or is not done yet) fails
// the step with a message naming the job, its status and what went wrong; `partial` (some
// model-days failed, the rest completed) and `completed` pass.

type AiTraderApi = { base_url: string; token?: string };

const FINISHED = ["completed", "partial", "failed", "cancelled"];

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

export async function main(api: AiTraderApi, job_id: string, fail_unless_succeeded: boolean = false) {
  if (!job_id) throw new Error("no job id: the trigger step did not start a job");
  const { status, doc, text } = await call(api, "GET", `/simulate/status/${encodeURIComponent(job_id)}`);
  if (status === 404) throw new Error(`job ${job_id} is not known to the service`);
  if (status !== 200) {
    throw new Error(`the status of job ${job_id} could not be read (HTTP ${status}): ${doc?.message ?? text.slice(0, 300)}`);
  }
  const p = doc.progress ?? {};
  const total = p.total_model_days ?? 0;
  const result = {
    job_id: doc.job_id,
    status: doc.status,
    done: FINISHED.includes(doc.status),
    succeeded: doc.status === "completed" || doc.status === "partial",
    date_range: doc.date_range,
    models: doc.models,
    progress: {
      total_model_days: total,
      completed: p.completed ?? 0,
      failed: p.failed ?? 0,
      pending: p.pending ?? 0,
      percent: total ? Math.round((1000 * ((p.completed ?? 0) + (p.failed ?? 0))) / total) / 10 : 100,
      current: p.current ?? [],
    },
    total_duration_seconds: doc.total_duration_seconds ?? null,
    error: doc.error ?? null,
  };
  if (fail_unless_succeeded) {
    if (!result.done) {
      throw new Error(`job ${job_id} is still ${doc.status} after the last poll (${result.progress.percent}% done): raise max_polls or poll_seconds`);
    }
    if (!result.succeeded) {
      const failed = (p.details ?? []).filter((d: any) => d.status === "failed");
      const first = failed.length ? `; first failure: ${failed[0].model} on ${failed[0].date}: ${failed[0].error}` : "";
      throw new Error(`job ${job_id} ended ${doc.status}${doc.error ? ` (${doc.error})` : ""}: ${result.progress.failed} of ${total} model-days failed${first}`);
    }
  }
  return result;
}
