"""Render our Helm chart without a helm binary (there is none where the suite runs).

This is NOT a Helm implementation: it renders exactly the subset of Go templates the chart under
deploy/helm/ is allowed to use, and raises on anything else, so a template that grows beyond the
subset fails the suite instead of rendering differently here than under `helm template`:

    {{ .Values.a.b }}  {{ .Release.Name }}  {{ .Release.Namespace }}  {{ .Chart.Version }} ...
    {{ X | quote }}  {{ required "msg" X }}  {{ toYaml X | nindent N }}  {{ X | indent N }}
    {{ if X }} / {{ if not X }} ... {{ else }} ... {{ end }}     {{- and -}} whitespace trimming
    {{/* comments */}}

A missing value is an error (Helm would print "<no value>"). Truthiness follows Go templates:
false, 0, "", empty list/map and missing are false.

    python tests/support/minihelm.py deploy/helm/cdshooks [-f values.yaml ...] [--set-string k=v]
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.DOTALL)


class TemplateError(Exception):
    pass


@dataclass
class _Node:
    kind: str  # "text" | "expr" | "if"
    value: str = ""
    then: list["_Node"] | None = None
    other: list["_Node"] | None = None


def _tokens(source: str) -> list[tuple[str, str]]:
    """(kind, text) pairs, whitespace trimmed as {{- and -}} ask."""
    out: list[tuple[str, str]] = []
    pos, trim_next = 0, False
    for match in ACTION.finditer(source):
        text = source[pos:match.start()]
        if trim_next:
            text = text.lstrip()
        if match.group(1):
            text = text.rstrip()
        out.append(("text", text))
        out.append(("action", match.group(2)))
        pos, trim_next = match.end(), bool(match.group(3))
    tail = source[pos:]
    out.append(("text", tail.lstrip() if trim_next else tail))
    return out


def _parse(tokens: list[tuple[str, str]], pos: int = 0, closers: tuple[str, ...] = ()) -> tuple[list[_Node], int, str]:
    nodes: list[_Node] = []
    while pos < len(tokens):
        kind, text = tokens[pos]
        pos += 1
        if kind == "text":
            nodes.append(_Node("text", text))
        elif text.startswith("/*"):
            continue
        elif text in closers:
            return nodes, pos, text
        elif text.startswith("if "):
            then, pos, closer = _parse(tokens, pos, ("else", "end"))
            other: list[_Node] = []
            if closer == "else":
                other, pos, closer = _parse(tokens, pos, ("end",))
            if closer != "end":
                raise TemplateError(f"unclosed {{{{ {text} }}}}")
            nodes.append(_Node("if", text[3:].strip(), then, other))
        elif text.split()[0] in ("range", "with", "define", "include", "template", "block", "else", "end"):
            raise TemplateError(f"outside the chart's template subset: {{{{ {text} }}}}")
        else:
            nodes.append(_Node("expr", text))
    if closers:
        raise TemplateError(f"missing {{{{ {closers[-1]} }}}}")
    return nodes, pos, ""


def _truthy(value: Any) -> bool:
    return bool(value) if value is not None else False


def _to_yaml(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=True).rstrip("\n")


def _go_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise TemplateError("a map or list printed directly; use toYaml")
    return str(value)


class _Renderer:
    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope

    def lookup(self, path: str) -> Any:
        value: Any = self.scope
        for part in path.strip(".").split("."):
            if not isinstance(value, dict) or part not in value:
                raise TemplateError(f"no value for {path}")
            value = value[part]
        return value

    def atom(self, token: str) -> Any:
        if token.startswith("."):
            return self.lookup(token)
        if token.startswith('"'):
            return json.loads(token)
        if re.fullmatch(r"-?\d+", token):
            return int(token)
        raise TemplateError(f"unknown term {token!r}")

    def call(self, words: list[str], piped: tuple[Any] | tuple[()] = ()) -> Any:
        name, args = words[0], [self.atom(w) for w in words[1:]] + list(piped)
        if name.startswith(".") or name.startswith('"'):
            if len(words) > 1 or piped:
                raise TemplateError(f"a value takes no arguments: {' '.join(words)}")
            return self.atom(name)
        if name == "quote" and len(args) == 1:
            return json.dumps(_go_str(args[0]))
        if name == "toYaml" and len(args) == 1:
            return _to_yaml(args[0])
        if name in ("indent", "nindent") and len(args) == 2:
            pad = " " * int(args[0])
            body = "\n".join(pad + line for line in str(args[1]).split("\n"))
            return "\n" + body if name == "nindent" else body
        if name == "required" and len(args) == 2:
            if not _truthy(args[1]):
                raise TemplateError(f"required: {args[0]}")
            return args[1]
        if name == "not" and len(args) == 1:
            return not _truthy(args[0])
        raise TemplateError(f"outside the chart's template subset: {' '.join(words)}")

    def pipeline(self, text: str) -> Any:
        value: tuple[Any] | tuple[()] = ()
        for stage in text.split("|"):
            value = (self.call(shlex.split(stage.strip(), posix=False), value),)
        return value[0]

    def render(self, nodes: list[_Node]) -> str:
        out: list[str] = []
        for node in nodes:
            if node.kind == "text":
                out.append(node.value)
            elif node.kind == "expr":
                out.append(_go_str(self.pipeline(node.value)))
            else:
                branch = node.then if _truthy(self.pipeline(node.value)) else node.other
                out.append(self.render(branch or []))
        return "".join(out)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def render_chart(chart_dir: Path, values: dict[str, Any] | None = None, *, release: str = "all-cds",
                 namespace: str = "default") -> dict[str, list[dict[str, Any]]]:
    """{template file name: [Kubernetes objects]} for the chart with ``values`` merged over its own."""
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    merged = _merge(yaml.safe_load((chart_dir / "values.yaml").read_text()) or {}, values or {})
    scope = {
        "Values": merged,
        "Release": {"Name": release, "Namespace": namespace, "Service": "Helm"},
        "Chart": {"Name": chart["name"], "Version": chart["version"], "AppVersion": chart.get("appVersion", "")},
    }
    renderer = _Renderer(scope)
    rendered: dict[str, list[dict[str, Any]]] = {}
    for template in sorted((chart_dir / "templates").glob("*.yaml")):
        nodes, _, _ = _parse(_tokens(template.read_text()))
        text = renderer.render(nodes)
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as exc:
            raise TemplateError(f"{template.name} renders invalid YAML: {exc}") from None
        rendered[template.name] = docs
    return rendered


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chart", type=Path)
    parser.add_argument("-f", "--values", action="append", type=Path, default=[])
    parser.add_argument("--set-string", action="append", default=[], help="dotted.key=value")
    args = parser.parse_args(argv)
    values: dict[str, Any] = {}
    for path in args.values:
        values = _merge(values, yaml.safe_load(path.read_text()) or {})
    for item in args.set_string:
        key, _, value = item.partition("=")
        nested: dict[str, Any] = {}
        cursor = nested
        *parents, leaf = key.split(".")
        for part in parents:
            cursor = cursor.setdefault(part, {})
        cursor[leaf] = value
        values = _merge(values, nested)
    for name, docs in render_chart(args.chart, values).items():
        for doc in docs:
            sys.stdout.write(f"---\n# Source: {name}\n{yaml.safe_dump(doc, sort_keys=False)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
