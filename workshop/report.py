"""The course reports: each run's `runs/<run id>/report.html` and the build folder's
`report.html`, an index of the runs, the latest first (runs of the learner's notebooks are marked).

A run's report is what an instructor reads: per stage, the talk's claim, the behaviour checks
as the notebook ran them (pass/fail), its capacity line, its duration, the diagrams it drew
(thumbnails; click for the full size) and the first error; each notebook links to its executed
copy rendered as HTML (nbconvert), with the raw `.ipynb` beside it."""

from __future__ import annotations

import html
import json
import time
from pathlib import Path

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.5rem;text-align:left;vertical-align:top}
.passed{color:#137333;font-weight:600}.failed{color:#b3261e;font-weight:600}
img{max-height:240px;max-width:360px;margin:.2rem;border:1px solid #eee}pre{white-space:pre-wrap;margin:0;color:#b3261e}
.tag{background:#e8f0fe;border-radius:4px;padding:0 .4rem;font-size:.85em}.claim{color:#555;font-size:.9em}
ul.checks{margin:.2rem 0;padding-left:1rem}ul.checks li{list-style:none}.ok{color:#137333}.bad{color:#b3261e}.warn{color:#a56100}
"""

RUN_FILE = "run.json"


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>\n{body}</body></html>")


def write(results, path: Path, heading: str = "") -> Path:
    """One run's report: a row per notebook (its stage's claim, checks, capacity line, diagrams, error)."""
    import base64

    from . import stages

    passed = sum(r.status == "passed" for r in results)
    rows = []
    for r in results:
        stage = stages.get(r.stage)
        images = []
        for i, png in enumerate(r.images[:4]):
            name = f"{Path(r.notebook).stem}-diagram-{i + 1}.png"
            (path.parent / name).write_bytes(base64.b64decode(png))
            images.append(f'<a href="{html.escape(name)}" target="_blank"><img alt="diagram {i + 1}" src="{name}"></a>')
        error = f"<pre>{html.escape(r.error)}</pre>" if r.error else ""
        links = []
        if r.html:
            links.append(f'<a href="{html.escape(r.html.name)}">{html.escape(r.notebook)}</a>')
        if r.output:
            links.append(f'<a href="{html.escape(r.output.name)}">{"ipynb" if r.html else html.escape(r.notebook)}</a>')
        claim = "" if stage.users in ("", "-") else f'<div class="claim">the talk: {html.escape(stage.users)}</div>'
        checks = "".join(
            f'<li class="{ {"✓": "ok", "~": "warn"}.get(line[:1], "bad") }">{html.escape(line)}</li>' for line in r.checks)
        checks = f'<ul class="checks">{checks}</ul>' if checks else ""
        capacity = f"<div>{html.escape(r.capacity)}</div>" if r.capacity else ""
        rows.append(
            f'<tr><td>{" · ".join(links)}<div class="claim">{html.escape(stage.label)}</div>{claim}</td>'
            f'<td class="{r.status}">{r.status}</td><td>{r.duration_s:.1f} s</td><td>{checks}{capacity}</td>'
            f"<td>{''.join(images)}</td><td>{error}</td></tr>"
        )
    body = f"""<h1>Scale, baby, scale! — course report</h1>
<p>{time.strftime('%Y-%m-%d %H:%M:%S')} · {heading}<b>{passed} of {len(results)} notebooks passed</b></p>
<table><tr><th>notebook</th><th>status</th><th>duration</th><th>checks and capacity</th><th>diagrams (click to enlarge)</th>
<th>first error</th></tr>
{''.join(rows)}</table>"""
    path.write_text(_page("Scale, baby, scale! — course report", body))
    return path


def write_run(run) -> Path:
    """A run's report and its record (`run.json`, read by the index)."""
    what = "learner's notebooks" if run.learner else "solutions"
    where = f"local AWS at {run.endpoint}" if run.endpoint else "AWS account"
    heading = f"run <code>{html.escape(run.run_id)}</code> · {what} · {html.escape(where)} · "
    write(run.results, run.folder / "report.html", heading)
    record = {
        "run_id": run.run_id, "started": run.started, "learner": run.learner, "endpoint": run.endpoint,
        "attached": run.attached, "passed": sum(r.status == "passed" for r in run.results),
        "notebooks": len(run.results), "duration_s": round(sum(r.duration_s for r in run.results), 1),
    }
    (run.folder / RUN_FILE).write_text(json.dumps(record, indent=2))
    return run.folder / "report.html"


def runs(build: Path) -> list[dict]:
    """The runs recorded under `build/runs/`, the latest first."""
    found = []
    for path in (build / "runs").glob(f"*/{RUN_FILE}"):
        try:
            found.append({**json.loads(path.read_text()), "folder": path.parent.name})
        except (OSError, ValueError):
            continue
    return sorted(found, key=lambda r: r.get("started", 0), reverse=True)


def write_index(build: Path) -> Path:
    """`build/report.html`: one row per run, the latest first, each linking to its own report."""
    rows = []
    for r in runs(build):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.get("started", 0)))
        status = "passed" if r.get("passed") == r.get("notebooks") else "failed"
        learner = ' <span class="tag">learner</span>' if r.get("learner") else ""
        link = f"runs/{html.escape(r['folder'])}/report.html"
        rows.append(
            f'<tr><td><a href="{link}">{html.escape(r["run_id"])}</a>{learner}</td><td>{when}</td>'
            f'<td class="{status}">{r.get("passed")} of {r.get("notebooks")} passed</td>'
            f'<td>{r.get("duration_s", 0):.1f} s</td></tr>'
        )
    latest = runs(build)[:1]
    summary = (f"latest: <b>{latest[0]['passed']} of {latest[0]['notebooks']} notebooks passed</b>"
               if latest else "no runs yet")
    body = f"""<h1>Scale, baby, scale! — course runs</h1>
<p>{summary}</p>
<table><tr><th>run</th><th>started</th><th>result</th><th>notebooks' time</th></tr>
{''.join(rows)}</table>"""
    path = build / "report.html"
    path.write_text(_page("Scale, baby, scale! — course runs", body))
    return path
