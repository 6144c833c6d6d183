"""The declaration as one HTML page (Jinja2 template ``templates/declaration.html.j2``)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from drready.report.declaration.view import build_view


def _template_source(name: str) -> str:
    return (files("drready.report") / "templates" / name).read_text(encoding="utf-8")


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["css_string"] = _css_string
    return environment


def _css_string(value: Any) -> Markup:
    """A CSS string literal (for @page margin boxes)."""
    text = "".join(ch if ch.isprintable() and ch not in '"\\<>' else " " for ch in str(value))
    return Markup(f'"{text}"')


def render_html(run_dir: Path, *, base_href: str | None = None) -> str:
    """The declaration of the run in ``run_dir`` (one class or combined) as one HTML page.

    Links to evidence are relative to ``run_dir``, unless ``base_href`` says where they are.
    """
    view = build_view(Path(run_dir), base_href=base_href)
    template = _environment().get_template("declaration.html.j2")
    return template.render(view=view, svg=lambda p: Markup(p.svg))
