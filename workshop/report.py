"""`build/report.html`: per notebook, status, duration, the diagrams it drew, the first error."""

from __future__ import annotations

import html
import time
from pathlib import Path

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.5rem;text-align:left;vertical-align:top}
.passed{color:#137333;font-weight:600}.failed{color:#b3261e;font-weight:600}
img{max-height:160px;margin:.2rem;border:1px solid #eee}pre{white-space:pre-wrap;margin:0;color:#b3261e}
"""


def write(results, path: Path) -> Path:
    passed = sum(r.status == "passed" for r in results)
    rows = []
    for r in results:
        images = "".join(f'<img alt="diagram" src="data:image/png;base64,{png}">' for png in r.images[:4])
        error = f"<pre>{html.escape(r.error)}</pre>" if r.error else ""
        link = html.escape(r.output.name) if r.output else ""
        rows.append(
            f'<tr><td><a href="{link}">{html.escape(r.notebook)}</a></td><td class="{r.status}">{r.status}</td>'
            f"<td>{r.duration_s:.1f} s</td><td>{r.slowest_cell_s:.2f} s</td><td>{images}</td><td>{error}</td></tr>"
        )
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>Scale, baby, scale! — course report</title>
<style>{_STYLE}</style></head><body>
<h1>Scale, baby, scale! — course report</h1>
<p>{time.strftime('%Y-%m-%d %H:%M:%S')} · <b>{passed} of {len(results)} notebooks passed</b></p>
<table><tr><th>notebook</th><th>status</th><th>duration</th><th>slowest cell</th><th>diagrams</th><th>first error</th></tr>
{''.join(rows)}</table></body></html>"""
    path.write_text(doc)
    return path
