"""The workspace as files: `wmill lint`, Windmill's own OpenFlow and schedule schemas, and what
the schemas cannot check (unique ids, `results.X` references, script paths, inputs matching
parameters, metadata matching code)."""

from __future__ import annotations

import ast
import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.windmill.workspace import (
    FLOW_DIR,
    FOLDER,
    NODE_BIN,
    WINDMILL,
    schema_of,
    tool,
    ts_params,
)

GEN = NODE_BIN.parent / "windmill-yaml-validator" / "dist" / "gen"


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as JSON Schema: type [T, "null"]."""
    if isinstance(node, dict):
        out = {k: _nullable(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") and "type" in node:
            out["type"] = [node["type"], "null"]
        elif node.get("nullable"):
            out = {"anyOf": [out, {"type": "null"}]}
        return out
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


def _validator(file: str, root: str | None) -> jsonschema.protocols.Validator:
    tool("wmill")  # the same npm install
    doc = _nullable(json.loads((GEN / file).read_text()))
    if root is None:
        return jsonschema.Draft202012Validator(doc)
    wrapped = copy.deepcopy(doc)
    wrapped["$ref"] = f"#/components/schemas/{root}"
    return jsonschema.Draft202012Validator(wrapped)


def flow() -> dict[str, Any]:
    return dict(yaml.safe_load((FLOW_DIR / "flow.yaml").read_text()))


def test_wmill_lint_passes() -> None:
    out = subprocess.run([tool("wmill"), "lint", "--fail-on-warn", "."], cwd=WINDMILL,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Lint passed" in out.stdout


def test_the_flow_matches_openflow() -> None:
    errors = [e.message for e in _validator("openflow.json", "OpenFlow").iter_errors(flow())]
    assert errors == []


def test_the_schedule_matches_windmill_schedule_schema() -> None:
    doc = yaml.safe_load((FOLDER / "daily_simulation.schedule.yaml").read_text())
    assert [e.message for e in _validator("schedule.json", None).iter_errors(doc)] == []
    assert len(doc["schedule"].split()) == 6  # seconds first
    assert doc["timezone"] == "America/New_York" and "Mon-Fri" in doc["schedule"]
    hour = int(doc["schedule"].split()[2])
    assert hour >= 16  # after the 16:00 close
    assert doc["script_path"] == "f/ai_trader/daily_simulation" and doc["is_flow"]
    required = flow()["schema"]["required"]
    assert set(required) <= set(doc["args"])
    assert set(doc["args"]) <= set(flow()["schema"]["properties"])


def _modules(modules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for m in modules:
        out.append(m)
        if m["value"]["type"] in ("whileloopflow", "forloopflow"):
            out.extend(_modules(m["value"]["modules"]))
    return out


def _params(module: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(parameters, required parameters) of the script a module runs."""
    value = module["value"]
    if value["type"] == "script":
        name = value["path"].removeprefix("f/ai_trader/")
        schema = schema_of(name)
        return set(schema["properties"]), set(schema["required"])
    file = FLOW_DIR / value["content"].removeprefix("!inline ")
    params = ts_params(file)
    text = file.read_text()
    head = text[text.index("export async function main("):text.index("{", text.index(")"))]
    required = {p for p in params if not re.search(rf"\b{p}\b[^,]*=", head)}
    return set(params), required


def test_what_the_schema_cannot_check() -> None:
    doc = flow()
    top = doc["value"]["modules"]
    every = [*_modules(top), doc["value"]["failure_module"]]
    ids = [m["id"] for m in every]
    assert len(ids) == len(set(ids)), ids
    assert doc["value"]["failure_module"]["id"] == "failure"
    order = [m["id"] for m in _modules(top)]
    inputs = set(doc["schema"]["properties"])
    for m in every:
        value = m["value"]
        if value["type"] == "script":
            name = value["path"].removeprefix("f/ai_trader/")
            assert value["path"].startswith("f/ai_trader/")
            assert (FOLDER / f"{name}.ts").exists() or (FOLDER / f"{name}.py").exists(), name
        if value["type"] == "rawscript":
            assert (FLOW_DIR / value["content"].removeprefix("!inline ")).exists()
        if value["type"] in ("script", "rawscript"):
            params, required = _params(m)
            given = set(value.get("input_transforms", {}))
            assert given <= params, (m["id"], given - params)
            assert required <= given, (m["id"], required - given)
        exprs = [t["expr"] for t in value.get("input_transforms", {}).values()
                 if t["type"] == "javascript"]
        exprs += [m[k]["expr"] for k in ("skip_if", "stop_after_if") if k in m]
        if m.get("sleep", {}).get("type") == "javascript":
            exprs.append(m["sleep"]["expr"])
        for expr in exprs:
            for ref in re.findall(r"results\.(\w+)", expr):  # an earlier step only
                assert ref in order and (m["id"] == "failure" or
                                         order.index(ref) < order.index(m["id"])), (m["id"], ref)
            for name in re.findall(r"flow_input\.(\w+)", expr):
                assert name in inputs or name == "iter", (m["id"], name)


def _ts_schema_types(file: Path) -> dict[str, str]:
    text = file.read_text()
    head = text[text.index("export async function main("):]
    head = head[:head.index(") {")]
    out = {}
    for name in ts_params(file):
        m = re.search(rf"\b{name}\s*:\s*([\w\[\]]+)", head)
        out[name] = m[1] if m else ""
    return out


TS_TYPES = {"string": "string", "boolean": "boolean", "number": "number",
            "string[]": "array", "AiTraderApi": "object"}
PY_TYPES = {"str": "string", "int": "integer", "bool": "boolean", "dict": "object",
            "ai_trader_api": "object", "postgresql": "object"}


def test_script_metadata_matches_the_code() -> None:
    """Every script has metadata whose parameters, types, defaults and resource formats are its
    main's; and a lock file its metadata points to."""
    for meta in sorted(FOLDER.glob("*.script.yaml")):
        name = meta.name.removesuffix(".script.yaml")
        doc = yaml.safe_load(meta.read_text())
        schema = doc["schema"]
        assert doc["lock"] == f"!inline f/ai_trader/{name}.script.lock"
        assert (FOLDER / f"{name}.script.lock").exists()
        props = schema["properties"]
        assert list(props) == schema["order"]
        if (FOLDER / f"{name}.ts").exists():
            types = _ts_schema_types(FOLDER / f"{name}.ts")
            assert list(types) == list(props), name
            for p, t in types.items():
                assert TS_TYPES[t] == props[p]["type"], (name, p)
                if t == "AiTraderApi":
                    assert props[p]["format"] == "resource-ai_trader_api"
        else:
            tree = ast.parse((FOLDER / f"{name}.py").read_text())
            main = next(n for n in tree.body if isinstance(n, ast.FunctionDef)
                        and n.name == "main")
            args = main.args.args
            assert [a.arg for a in args] == list(props), name
            n_required = len(args) - len(main.args.defaults)
            assert [a.arg for a in args[:n_required]] == schema["required"], name
            for a, default in zip(args[n_required:], main.args.defaults, strict=True):
                assert props[a.arg]["default"] == ast.literal_eval(default), (name, a.arg)
            for a in args:
                ann = ast.unparse(a.annotation) if a.annotation else ""
                assert PY_TYPES[ann] == props[a.arg]["type"], (name, a.arg)
                if ann in ("ai_trader_api", "postgresql"):
                    fmt = "resource-ai_trader_api" if ann == "ai_trader_api" else \
                        "resource-postgresql"
                    assert props[a.arg]["format"] == fmt


def test_resource_types_and_folder() -> None:
    for file in WINDMILL.glob("*.resource-type.yaml"):
        doc = yaml.safe_load(file.read_text())
        jsonschema.Draft202012Validator.check_schema(doc["schema"])
        assert doc["description"]
    api = yaml.safe_load((WINDMILL / "ai_trader_api.resource-type.yaml").read_text())
    assert set(api["schema"]["properties"]) == {"base_url", "token"}
    assert api["schema"]["required"] == ["base_url"]
    assert (FOLDER / "folder.meta.yaml").exists()
    names = [p.name for p in FOLDER.rglob("*")]
    assert all(re.fullmatch(r"[\w\-.]+", n) for n in names)
    scripts = [p for p in FOLDER.iterdir() if p.suffix in (".ts", ".py")]
    assert scripts and all("." not in p.stem for p in scripts)  # no dots in script names
