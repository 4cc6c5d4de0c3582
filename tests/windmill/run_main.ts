// Run a Windmill TypeScript script's main() on Bun or Deno, as a worker would: the arguments
// arrive by position (the order of its schema), a missing one is `undefined` (its default).
// argv: <file URL of the script> <JSON array of arguments>; prints {"ok": result} or
// {"error": {"name", "message"}} as the last line.
declare const Deno: { args: string[]; exit(code: number): never } | undefined;
declare const process: { argv: string[]; exit(code: number): never };

const argv = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
const [url, rawArgs] = argv;
const args = (JSON.parse(rawArgs) as unknown[]).map((a) =>
  a !== null && typeof a === "object" && (a as Record<string, unknown>).__undefined__ ? undefined : a
);
try {
  const mod = await import(url);
  const result = await mod.main(...args);
  console.log(JSON.stringify({ ok: result ?? null }));
} catch (err) {
  const e = err as Error;
  console.log(JSON.stringify({ error: { name: e?.name ?? "Error", message: e?.message ?? String(err) } }));
}
