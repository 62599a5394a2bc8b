"""The committee pack: the page's content printed to an A4 PDF (<out>/committee-pack.pdf) by
Chromium, each chart a static image with its figures in a table, and each chart's SVG and PNG in
<out>/charts/ for papers.

Chromium does both steps, so the pack needs no other browser: plotly.js, inside a headless
Chromium, turns each figure into SVG and PNG (Plotly.toImage; the DOM dumped with --dump-dom
carries them out), then Chromium prints the static page (--print-to-pdf); page numbers come from the
page's own CSS (@page margin boxes), so Chromium's header and footer (date, file path) are off.
Kaleido would drive a Chrome the same way, as one more dependency."""
import base64
import html
import os
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

import duckdb
import plotly.io as pio
from plotly.offline import get_plotlyjs

from dashboards import page
from dashboards.findings import Period
from pipelines.db import AuditError
from pipelines.export import list_paths

PACK = "committee-pack.pdf"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update", "--hide-scrollbars"]
IMAGE_WIDTH = 900  # CSS pixels; the image fills the A4 text width (186 mm), so text stays about 9 pt
PACK_CHARTS = ("grams_by_recommendation", "share_trend", "condition_grams")  # the page has more
HOW_TO_GET_IT = "install Chromium (Debian: apt-get install chromium) and run `ivig-audit report`"


def chromium() -> str | None:
    """The Chromium to print with: IVIG_AUDIT_CHROMIUM, else chromium on the PATH, else None."""
    found = os.environ.get("IVIG_AUDIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return found if found and Path(found).exists() else None


def write_pack(con: duckdb.DuckDBPyConnection, out_dir: Path, period: Period = Period(), prices: dict | None = None) -> Path:
    """Write <out>/committee-pack.pdf and <out>/charts/*.svg|png from the database's marts."""
    browser = chromium()
    if browser is None:
        raise AuditError(f"no Chromium to print the committee pack: {HOW_TO_GET_IT}")
    ruleset_id = con.execute("""SELECT coalesce((SELECT any_value(guideline_id) FROM order_audit),
                                                (SELECT min(ruleset_id) FROM guideline_rulesets))""").fetchall()[0][0]
    context = page.page_context(con, ruleset_id, datetime.now(), list_paths(out_dir), period, prices)
    out_dir = out_dir.resolve()
    work = out_dir / ".pack"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        figures = {name: figure for name, figure in context["figures"].items() if name in PACK_CHARTS}
        images = _chart_images(browser, figures, work) if figures else {}
        charts_dir = out_dir / "charts"
        shutil.rmtree(charts_dir, ignore_errors=True)
        charts_dir.mkdir()
        for name, (svg, png) in images.items():
            (charts_dir / f"{name}.svg").write_text(svg, encoding="utf-8")
            (charts_dir / f"{name}.png").write_bytes(png)
        context.update(pack=True, charts=figures,
                       images={name: "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
                               for name, (svg, _) in images.items()},  # printed as vectors
                       chart_tables={name: chart_table(figure) for name, figure in figures.items()})
        source = work / "committee-pack.html"
        source.write_text(page._template().render(**context), encoding="utf-8")
        staged = work / PACK
        _run(browser, work, "--no-pdf-header-footer", f"--print-to-pdf={staged}", source.as_uri())
        if not staged.exists():
            raise AuditError("Chromium wrote no committee pack")
        os.replace(staged, out_dir / PACK)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out_dir / PACK


def chart_table(figure) -> dict:
    """A chart's figures as a table: a row per category (bar label or quarter), a column per trace
    that has a name; numbers formatted as on the page."""
    traces = [trace for trace in figure.data if trace.name and getattr(trace, "fill", None) in (None, "none")]  # bands aside
    horizontal = bool(traces) and traces[0].orientation == "h"
    categories: list = []
    values: dict = {}
    for trace in traces:
        keys, numbers = (trace.y, trace.x) if horizontal else (trace.x, trace.y)
        for key, number in zip(keys, numbers):
            if key not in values:
                categories.append(key)
                values[key] = {}
            values[key][trace.name] = number
    if not traces and figure.data:  # one unnamed trace (grams by recommendation)
        trace = figure.data[0]
        keys, numbers = (trace.y, trace.x) if trace.orientation == "h" else (trace.x, trace.y)
        return {"columns": ["", "grams"], "rows": [[_label(k), _number(n)] for k, n in zip(keys, numbers)]}
    names = [trace.name for trace in traces]
    return {"columns": [""] + names,
            "rows": [[_label(key)] + [_number(values[key].get(name)) for name in names] for key in categories]}


def _label(key) -> str:
    if hasattr(key, "month") and not isinstance(key, str):
        return f"Q{(key.month - 1) // 3 + 1} {key.year}"
    return str(key).replace("<br>", " ")


def _number(value) -> str:
    if value is None:
        return ""
    return f"{value:,.1f}" if isinstance(value, float) and value != int(value) else f"{value:,.0f}"


def _chart_images(browser: str, figures: dict, work: Path) -> dict[str, tuple[str, bytes]]:
    """Each figure as SVG text and PNG bytes, drawn by plotly.js in headless Chromium."""
    blocks = "".join(f'<script type="application/json" id="figure-{name}">{pio.to_json(figure, validate=False)}</script>'
                     f'<pre id="svg-{name}"></pre><pre id="png-{name}"></pre>' for name, figure in figures.items())
    script = """
      document.querySelectorAll('script[id^="figure-"]').forEach(function (source) {
        var name = source.id.slice(7), figure = JSON.parse(source.textContent);
        var size = {width: %d, height: figure.layout.height || 420};
        Plotly.toImage(figure, Object.assign({format: "svg"}, size)).then(function (url) {
          document.getElementById("svg-" + name).textContent = url; });
        Plotly.toImage(figure, Object.assign({format: "png", scale: 2}, size)).then(function (url) {
          document.getElementById("png-" + name).textContent = url; });
      });""" % IMAGE_WIDTH
    capture = work / "charts.html"
    capture.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{blocks}'
                       f'<script>{get_plotlyjs()}</script><script>{script}</script></body></html>', encoding="utf-8")
    dom = _run(browser, work, "--virtual-time-budget=30000", "--dump-dom", capture.as_uri())
    images = {}
    for name in figures:
        svg = re.search(rf'<pre id="svg-{name}">data:image/svg\+xml,(.*?)</pre>', dom, re.DOTALL)
        png = re.search(rf'<pre id="png-{name}">data:image/png;base64,(.*?)</pre>', dom, re.DOTALL)
        if not (svg and png):
            raise AuditError(f"Chromium did not draw the chart {name} for the committee pack")
        images[name] = (unquote(html.unescape(svg[1])), base64.b64decode(png[1]))
    return images


def _run(browser: str, work: Path, *arguments: str) -> str:
    """Chromium headless with a fresh profile in the work folder; its standard output."""
    done = subprocess.run([browser, *FLAGS, f"--user-data-dir={work / 'profile'}", *arguments],
                          capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise AuditError(f"Chromium failed printing the committee pack (exit {done.returncode})")
    return done.stdout

