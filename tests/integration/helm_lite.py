"""Render the Reaper chart without helm: exactly the template subset gen-helm-chart.py emits.

Supported: `{{ PATH }}`, `{{ PATH | quote }}`, `{{ PATH | default PATH }}`, `{{ dir PATH }}`,
`{{ toYaml PATH | nindent N }}`, `{{- if PATH }}` … `{{- end }}`, whitespace trimming with
`{{-` / `-}}`; PATH is .Values.a.b, .Release.Namespace or .Chart.AppVersion. Anything else
raises, so the chart cannot drift into template features these tests would not understand.
Like helm, rendering first validates the values against the chart's values.schema.json.
"""
import json
import pathlib
import posixpath
import re

import jsonschema
import yaml

ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


class TemplateError(Exception):
    pass


def _lookup(ctx, path):
    if not path.startswith("."):
        raise TemplateError(f"unsupported operand {path!r}")
    node = ctx
    for part in path[1:].split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


def _command(ctx, cmd, piped):
    words = cmd.split()
    if words[0] == "quote" and len(words) == 1:
        return '"' + _text(piped).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if words[0] == "default" and len(words) == 2:
        return piped if piped not in (None, "", False, 0) else _lookup(ctx, words[1])
    if words[0] == "dir" and len(words) == 2:
        return posixpath.dirname(_text(_lookup(ctx, words[1])))
    if words[0] == "toYaml" and len(words) == 2 and piped is None:
        v = _lookup(ctx, words[1])
        return "" if v is None else yaml.safe_dump(v, default_flow_style=False).rstrip("\n")
    if words[0] == "nindent" and len(words) == 2 and words[1].isdigit():
        pad = " " * int(words[1])
        return "\n" + "\n".join(pad + line for line in _text(piped).split("\n"))
    if len(words) == 1 and piped is None:
        return _lookup(ctx, words[0])
    raise TemplateError(f"unsupported template command {cmd!r}")


def _pipeline(ctx, expr):
    value = None
    for i, cmd in enumerate(c.strip() for c in expr.split("|")):
        if i == 0 and cmd.split()[0] in ("quote", "default", "nindent"):
            raise TemplateError(f"{cmd!r} needs a piped value")
        value = _command(ctx, cmd, value)
    return value


def render_text(text, ctx):
    out, stack, pos = [], [True], 0
    for m in ACTION.finditer(text):
        lead = text[pos:m.start()]
        if m.group(1):
            lead = lead.rstrip()
        if all(stack):
            out.append(lead)
        pos = m.end()
        if m.group(3):
            while pos < len(text) and text[pos].isspace():
                pos += 1
        expr = m.group(2)
        if expr.startswith("if "):
            stack.append(_pipeline(ctx, expr[3:]) not in (None, "", False, 0))
        elif expr == "end":
            if len(stack) == 1:
                raise TemplateError("{{ end }} without {{ if }}")
            stack.pop()
        elif all(stack):
            out.append(_text(_pipeline(ctx, expr)))
    if len(stack) != 1:
        raise TemplateError("unterminated {{ if }}")
    out.append(text[pos:])
    return "".join(out)


def merge(base, override):
    out = dict(base)
    for k, v in (override or {}).items():
        out[k] = merge(base.get(k, {}), v) if isinstance(v, dict) else v
    return out


def render_chart(chart, namespace="reaper-system", values=None):
    """All objects the chart would install: crds/ as-is, then templates/ rendered."""
    chart = pathlib.Path(chart)
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    merged = merge(yaml.safe_load((chart / "values.yaml").read_text()), values)
    schema = chart / "values.schema.json"
    if schema.exists():
        jsonschema.validate(merged, json.loads(schema.read_text()))
    ctx = {"Values": merged,
           "Release": {"Namespace": namespace, "Name": "reaper"},
           "Chart": {"AppVersion": meta["appVersion"], "Version": meta["version"]}}
    objects = []
    for f in sorted((chart / "crds").glob("*.yaml")):
        objects += [d for d in yaml.safe_load_all(f.read_text()) if d]
    for f in sorted((chart / "templates").glob("*.yaml")):
        objects += [d for d in yaml.safe_load_all(render_text(f.read_text(), ctx)) if d]
    return objects
