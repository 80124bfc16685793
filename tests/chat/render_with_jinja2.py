#!/usr/bin/env python3
"""Renders templates with Python's jinja2 set up the way Hugging Face transformers renders chat
templates (transformers.utils.chat_template_utils._compile_jinja_template): an
ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks, the {% generation %} tag and the
loopcontrols extension, the raise_exception and strftime_now globals, and transformers' tojson.

Usage: render_with_jinja2.py INPUT.json OUTPUT.json
INPUT:  {"now": "2024-07-26T10:30:00", "cases": [{"template": "...", "context": {...}}, ...]}
OUTPUT: [{"ok": true, "text": "..."}
         | {"ok": false, "phase": "compile" or "render", "error": "ExceptionName", "message": "..."}]
strftime_now formats the fixed "now" so both renderers see the same date.
"""
import datetime
import json
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment


class AssistantTracker(jinja2.ext.Extension):
    """transformers' {% generation %} tag, without the index tracking: renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        call = self.call_method("_generation_support")
        return jinja2.nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def make_environment(now):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(format):
        return now.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, compiled, case):
    phase = "compile"
    try:
        source = case["template"]
        if source not in compiled:  # compiling dominates the run time; cases share templates
            compiled[source] = env.from_string(source)
        phase = "render"
        return {"ok": True, "text": compiled[source].render(**case["context"])}
    except Exception as e:  # every failure is a result the C++ side must reproduce
        return {"ok": False, "phase": phase, "error": type(e).__name__, "message": str(e)}


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        request = json.load(f)
    now = datetime.datetime.fromisoformat(request["now"])
    env = make_environment(now)
    compiled = {}
    results = [render(env, compiled, case) for case in request["cases"]]
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
