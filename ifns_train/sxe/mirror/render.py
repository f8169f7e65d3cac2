"""How the Mirror turns values into page text: the Jinja environment (autoescape on, so every
value from the registry is escaped) with its filters, data files whose JSON cannot end a
script, and the digest of the templates and assets that the manifest keys pages by."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from typing import Any

import msgspec
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from ifns_train.sxe.challenger import challenger_words
from ifns_train.sxe.common import MODEL_STATUSES
from ifns_train.sxe.figures import summary_words

ASSETS = ("mirror.css", "mirror.js")


def js_literal(value: Any) -> str:
    """JSON that is also safe inside a script file or element: `<`, `>`, `&` and the two
    JavaScript line separators escaped, so no value can end the script or open another.
    NaN and infinities become null (msgspec's rule; JSON has neither)."""
    text = msgspec.json.encode(value, enc_hook=str).decode()
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                       ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, code)
    return text


def data_file(name: str, payload: Any) -> str:
    return f"IFNS.put({js_literal(name)},{js_literal(payload)});\n"


def environment() -> Environment:
    env = Environment(loader=PackageLoader("ifns_train.sxe.mirror", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(summary=summary_words, challenger=challenger_words, num=_num, ts=_ts,
                       pretty=_pretty, cell=_cell, evidence=_evidence, passed=_passed)
    env.globals.update(STATUSES=MODEL_STATUSES)
    return env


def _num(value: Any, digits: int = 4, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:+d}" if signed else f"{value:,d}"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return str(value)


def _cell(value: Any, signed: bool = False) -> Markup:
    """A number's table cell: shown rounded, its full value in data-value."""
    full = "" if value is None else escape(str(value))
    return Markup(f'<td class="n" data-value="{full}">{escape(_num(value, signed=signed))}</td>')


EVIDENCE_TONES = {"better": ("better", "significantly better"),
                  "worse": ("worse", "significantly worse"),
                  "within noise": ("noise", "within noise")}


def _evidence(word: Any) -> Markup:
    """An improvement's evidence word (`compare.evidence_of`) as a toned label."""
    if word not in EVIDENCE_TONES:
        return Markup('<span class="muted">-</span>')
    tone, text = EVIDENCE_TONES[word]
    return Markup(f'<span class="tone {tone}">{text}</span>')


def _passed(passed: Any) -> Markup:
    if passed is None:
        return Markup('<span class="muted">not run</span>')
    return Markup('<span class="tone better">passed</span>' if passed
                  else '<span class="tone worse">failed</span>')


def _ts(value: Any) -> str:
    return str(value)[:19].replace("T", " ") if value else "n/a"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def code_digest(env: Environment) -> str:
    """What the pages depend on besides their data: the templates and the assets."""
    h = hashlib.sha256()
    for name in sorted(env.list_templates()):
        h.update(name.encode())
        h.update(env.loader.get_source(env, name)[0].encode())  # type: ignore[union-attr]
    for name in ASSETS:
        h.update(asset(name).encode())
    return h.hexdigest()[:16]


def asset(name: str) -> str:
    return resources.files("ifns_train.sxe.mirror").joinpath("static").joinpath(name).read_text()


