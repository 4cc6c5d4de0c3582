"""Run the workspace's scripts and its flow the way Windmill would, without a Windmill server:
TypeScript on the real Bun (or Deno), Python on CPython, flow expressions on Node.

`run_flow` walks `flow.yaml`: each step's `input_transforms` evaluated as JavaScript over
`flow_input` and `results`, `skip_if` before a step, `sleep` before it (passive: a real
sleep), `stop_after_if` after it (at the top level it ends the flow, inside a while loop it
ends the loop), `retry` on failure, and the `failure_module` with `error` when a step fails.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WINDMILL = ROOT / "windmill"
FOLDER = WINDMILL / "f" / "ai_trader"
FLOW_DIR = FOLDER / "daily_simulation__flow"
NODE_BIN = ROOT / ".ci" / "node" / "node_modules" / ".bin"
HERE = Path(__file__).resolve().parent


def tool(name: str) -> str:
    """A tool from .ci/node (npm: bun, deno, wmill) or node itself; skip without it, fail
    under CI (.ci/run installs them)."""
    path = shutil.which("node") if name == "node" else str(NODE_BIN / name)
    if path is None or not Path(path).exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {name} is missing: .ci/run installs it "
                        "(npm ci --prefix .ci/node)")
        pytest.skip(f"{name} is not installed: npm ci --prefix .ci/node")
    return path


class ScriptFailed(Exception):
    def __init__(self, message: str, step: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.step = step


def schema_of(script: str) -> dict[str, Any]:
    doc = yaml.safe_load((FOLDER / f"{script}.script.yaml").read_text())
    return dict(doc["schema"])


def _ts_main(file: Path, args: Mapping[str, Any], order: list[str], runtime: str) -> Any:
    values = [args.get(name, {"__undefined__": True}) for name in order]
    runner = HERE / "run_main.ts"
    if runtime == "bun":
        cmd = [tool("bun"), "run", str(runner)]
    else:
        cmd = [tool("deno"), "run", "--quiet", "--no-prompt", "--allow-net", "--allow-read",
               "--no-check", str(runner)]
    out = subprocess.run([*cmd, file.as_uri(), json.dumps(values)], capture_output=True,
                         text=True, timeout=120, cwd=HERE)
    lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
    if not lines:
        raise AssertionError(f"{runtime} printed no result: {out.stdout}{out.stderr}")
    doc = json.loads(lines[-1])
    if "error" in doc:
        raise ScriptFailed(doc["error"]["message"])
    return doc["ok"]


def py_module(name: str) -> Any:
    """A module that imports the workspace's Python scripts as Windmill does
    (`f.ai_trader.<script>`, or a test module such as `tests.windmill.previous_store`)."""
    if str(WINDMILL) not in sys.path:
        sys.path.insert(0, str(WINDMILL))  # Windmill resolves `f.ai_trader.x` the same way
    return importlib.import_module(name if "." in name else f"f.ai_trader.{name}")


def _py_main(name: str, args: Mapping[str, Any]) -> Any:
    module = py_module(name)
    try:
        return module.main(**args)
    except Exception as exc:  # what Windmill shows as the step's error
        raise ScriptFailed(str(exc)) from exc


def ts_params(file: Path) -> list[str]:
    """The parameter names of an inline TS script's main, in order."""
    text = file.read_text()
    head = text[text.index("export async function main(") + len("export async function main("):]
    depth, params, cur = 0, [], ""
    for ch in head:
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            if depth == 0:
                break
            depth -= 1
        if ch == "," and depth == 0:
            params.append(cur)
            cur = ""
        else:
            cur += ch
    params.append(cur)
    return [p.strip().split(":")[0].split("=")[0].strip() for p in params if p.strip()]


def run_script(path: str, args: Mapping[str, Any], *, runtime: str = "bun") -> Any:
    """A workspace script by its Windmill path (f/ai_trader/<name>)."""
    name = path.rsplit("/", 1)[1]
    if (FOLDER / f"{name}.py").exists():
        return _py_main(name, args)
    return _ts_main(FOLDER / f"{name}.ts", args, list(schema_of(name)["order"]), runtime)


def evaluate(exprs: Mapping[str, str], ctx: Mapping[str, Any]) -> dict[str, Any]:
    if not exprs:
        return {}
    out = subprocess.run([tool("node"), str(HERE / "eval.js")], capture_output=True,
                         text=True, timeout=30, input=json.dumps({"exprs": exprs, "ctx": ctx}))
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def _inputs(module: Mapping[str, Any], ctx: Mapping[str, Any]) -> dict[str, Any]:
    transforms = module["value"].get("input_transforms", {})
    static = {k: t["value"] for k, t in transforms.items() if t["type"] == "static"}
    dynamic = evaluate({k: t["expr"] for k, t in transforms.items()
                        if t["type"] == "javascript"}, ctx)
    return {**static, **dynamic}


class Flow:
    """One run of the daily flow. `steps` records what ran, in order; `retry_scale` shortens
    retry waits (they are honoured, not skipped)."""

    def __init__(self, flow_input: Mapping[str, Any], *, runtime: str = "bun",
                 retry_scale: float = 0.0) -> None:
        self.doc = yaml.safe_load((FLOW_DIR / "flow.yaml").read_text())
        schema = self.doc["schema"]
        defaults = {k: p["default"] for k, p in schema["properties"].items() if "default" in p}
        self.flow_input: dict[str, Any] = {**defaults, **flow_input}
        self.runtime = runtime
        self.retry_scale = retry_scale
        self.results: dict[str, Any] = {}
        self.steps: list[str] = []
        self.stopped = False
        self.failure: Any = None

    def _ctx(self, **extra: Any) -> dict[str, Any]:
        return {"flow_input": self.flow_input, "results": self.results, **extra}

    def _execute(self, module: Mapping[str, Any], args: dict[str, Any]) -> Any:
        value = module["value"]
        if value["type"] == "script":
            return run_script(value["path"], args, runtime=self.runtime)
        assert value["type"] == "rawscript"
        file = FLOW_DIR / value["content"].removeprefix("!inline ")
        return _ts_main(file, args, ts_params(file),
                        "deno" if value["language"] == "deno" else self.runtime)

    def _run_module(self, module: Mapping[str, Any], ctx: dict[str, Any]) -> tuple[Any, bool]:
        """(result, stop): run one module with its sleep, retries and stop_after_if."""
        if "sleep" in module:
            s = module["sleep"]
            seconds = s["value"] if s["type"] == "static" else evaluate({"s": s["expr"]},
                                                                         ctx)["s"]
            time.sleep(float(seconds or 0))
        args = _inputs(module, ctx)
        retry = module.get("retry", {}).get("constant", {})
        attempts = 1 + int(retry.get("attempts", 0))
        for n in range(attempts):
            self.steps.append(module["id"])
            try:
                result = self._execute(module, args)
                break
            except ScriptFailed as exc:
                if n == attempts - 1:
                    raise ScriptFailed(exc.message, module["id"]) from None
                time.sleep(float(retry.get("seconds", 0)) * self.retry_scale)
        stop = module.get("stop_after_if")
        stopped = stop is not None and bool(evaluate({"s": stop["expr"]},
                                                      {**ctx, "result": result})["s"])
        return result, stopped

    def _modules(self, modules: list[Mapping[str, Any]], iteration: int | None = None) -> bool:
        """Run modules in order; True when a stop_after_if ended them."""
        for module in modules:
            flow_input = self.flow_input if iteration is None else \
                {**self.flow_input, "iter": {"index": iteration, "value": iteration}}
            ctx = self._ctx()
            ctx["flow_input"] = flow_input
            skip = module.get("skip_if")
            if skip and evaluate({"s": skip["expr"]}, ctx)["s"]:
                self.results[module["id"]] = None
                continue
            if module["value"]["type"] == "whileloopflow":
                iterations: list[Any] = []
                for i in range(10_000):
                    stopped = self._modules(module["value"]["modules"], i)
                    iterations.append(self.results[module["value"]["modules"][-1]["id"]])
                    if stopped:
                        break
                self.results[module["id"]] = iterations
                continue
            result, stopped = self._run_module(module, ctx)
            self.results[module["id"]] = result
            if stopped:
                return True
        return False

    def run(self) -> dict[str, Any]:
        try:
            self.stopped = self._modules(self.doc["value"]["modules"])
        except ScriptFailed as exc:
            failure = self.doc["value"].get("failure_module")
            if failure:
                error = {"message": exc.message, "name": "Error", "step_id": exc.step}
                self.failure, _ = self._run_module(failure, self._ctx(error=error))
            raise
        return self.results


def rows(db: Mapping[str, Any], sql: str) -> list[tuple[Any, ...]]:
    """What a query on the results database returns."""
    import psycopg2

    conn = psycopg2.connect(**{**db, "password": None})
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()
