// The flow's failure module: say which step failed and why, and notify the webhook if any.
type AiTraderWebhook = { url: string; token?: string };

export async function main(message: string, step: string = "",
                           webhook: AiTraderWebhook | undefined = undefined) {
  const text = `aitrader: the daily simulation flow failed${step ? ` at step ${step}` : ""}: ${message}`;
  let notified = false;
  if (webhook && webhook.url) {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (webhook.token) headers.Authorization = `Bearer ${webhook.token}`;
    try {
      const resp = await fetch(webhook.url, {
        method: "POST", headers, signal: AbortSignal.timeout(15_000),
        body: JSON.stringify({ text, status: "failed", step, message }),
      });
      notified = resp.ok;
    } catch {
      notified = false; // the failure itself is what matters; it is returned below
    }
  }
  return { failed: true, step, message, text, notified };
}
