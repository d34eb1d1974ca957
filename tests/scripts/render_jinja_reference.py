#!/usr/bin/python3
"""Renders a Jinja chat template with jinja2 set up as Hugging Face transformers sets it up.

The reference for selm's Jinja engine (tests/unit/text_jinja_reference_test.cpp). transformers
compiles a chat template in an ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks,
the loopcontrols extension and an extension for {% generation %}, replaces the tojson filter by
json.dumps with ensure_ascii=False, and adds the globals raise_exception and strftime_now. This
script builds the same environment with jinja2 alone, so that the comparison needs no
transformers installation.

Usage: render_jinja_reference.py [REQUEST.json [RESULT.json]]
  REQUEST: {"template": SOURCE, "contexts": [VARIABLES, ...]}, or a list of such requests
           (stdin when absent)
  RESULT:  per request a list with, per context, {"output": TEXT} or {"error": TYPE,
           "message": TEXT, "line": LINE} (a list of those lists for a list of requests; stdout
           when absent), written with ensure_ascii so that any byte survives.
"""

import json
import sys
import traceback
from datetime import datetime

import jinja2
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationBlock(Extension):
    """{% generation %}...{% endgeneration %} renders its body as it is (transformers uses it
    to find the assistant's tokens; the text does not change)."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render_body"), [], [], body).set_lineno(lineno)

    def _render_body(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # Unlike jinja2's own tojson, no HTML escaping, and json.dumps' options exposed.
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return datetime.now().strftime(format)


def make_environment():
    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationBlock, jinja2.ext.loopcontrols]
    )
    environment.filters["tojson"] = tojson
    environment.globals["raise_exception"] = raise_exception
    environment.globals["strftime_now"] = strftime_now
    return environment


def template_line(error):
    """The template line a render error came from: jinja2 rewrites tracebacks so that the
    template's frames carry its file name ("<template>") and line."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == "<template>"]
    return lines[-1] if lines else None


def render_all(request):
    environment = make_environment()
    try:
        template = environment.from_string(request["template"])
    except jinja2.exceptions.TemplateSyntaxError as error:
        failure = {"error": type(error).__name__, "message": error.message, "line": error.lineno}
        return [failure for _ in request["contexts"]]
    except Exception as error:  # e.g. Python's SyntaxError for {% break %} outside a loop
        failure = {"error": type(error).__name__, "message": str(error), "line": None}
        return [failure for _ in request["contexts"]]
    results = []
    for context in request["contexts"]:
        try:
            results.append({"output": template.render(**context)})
        except Exception as error:  # every failure is a result to compare, not a crash
            results.append({"error": type(error).__name__, "message": str(error), "line": template_line(error)})
    return results


def main(argv):
    if len(argv) > 1:
        with open(argv[1], encoding="utf-8") as source:
            request = json.load(source)
    else:
        request = json.load(sys.stdin)
    if isinstance(request, list):
        results = [render_all(one) for one in request]
    else:
        results = render_all(request)
    text = json.dumps(results, ensure_ascii=True)
    if len(argv) > 2:
        with open(argv[2], "w", encoding="ascii") as sink:
            sink.write(text)
    else:
        sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main(sys.argv)
