// Evaluate Windmill input_transforms / skip_if / stop_after_if expressions the way a flow does:
// plain JavaScript over `flow_input`, `results`, `result`, `error`, `previous_result`.
// stdin: {"exprs": {"name": "expr", ...}, "ctx": {...}}; stdout: {"name": value, ...}
let raw = "";
process.stdin.on("data", (d) => (raw += d));
process.stdin.on("end", () => {
  const { exprs, ctx } = JSON.parse(raw);
  const names = Object.keys(ctx);
  const out = {};
  for (const [key, expr] of Object.entries(exprs)) {
    const fn = new Function(...names, `return (${expr});`);
    const value = fn(...names.map((n) => ctx[n]));
    out[key] = value === undefined ? null : value;
  }
  process.stdout.write(JSON.stringify(out));
});
