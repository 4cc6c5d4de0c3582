// Tell a webhook how the daily simulation ended (a Slack-compatible "text" plus the details).
type AiTraderWebhook = { url: string; token?: string };

export async function main(webhook: AiTraderWebhook, job_id: string, status: string,
                           duration_seconds: number | null = null,
                           date_range: string[] = [], stored_rows: number = 0) {
  const took = duration_seconds == null ? "" : ` in ${Math.round(duration_seconds)} s`;
  const text = `aitrader: daily simulation ${status}${took}` +
    (date_range.length ? ` (${date_range.join(" to ")})` : "") +
    `; ${stored_rows} result rows stored; job ${job_id}`;
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (webhook.token) headers.Authorization = `Bearer ${webhook.token}`;
  let resp: Response;
  try {
    resp = await fetch(webhook.url, {
      method: "POST", headers, signal: AbortSignal.timeout(15_000),
      body: JSON.stringify({ text, job_id, status, duration_seconds, date_range, stored_rows }),
    });
  } catch (err) {
    throw new Error(`the notification webhook could not be reached: ${(err as Error).message}`);
  }
  if (!resp.ok) throw new Error(`the notification webhook answered HTTP ${resp.status}`);
  return { notified: true, text };
}
