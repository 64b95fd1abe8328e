"""The capacity explorer in a real JupyterLab, driven by headless Chromium (Debian's `chromium`).

Install (no browser download): `apt-get install -y chromium` and
`.venv/bin/pip install playwright==1.65.2`. The test starts JupyterLab on a free loopback
port, opens notebook 10, runs its cells, drags the users slider and checks the bottleneck
shown changes; the screenshot goes to build/browser-capacity.png.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
NOTEBOOK = "10_ten_million_users.ipynb"

pytestmark = pytest.mark.browser


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook_copy(folder: Path, run_id: str) -> Path:
    """The solution notebook with this test's run id and a quick comparison (stage 1 only)."""
    import nbformat

    nb = nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source += f'\nrun_id = "{run_id}"\ncompare_stages = "1"\n'
    path = folder / NOTEBOOK
    nbformat.write(nb, path)
    return path


@pytest.fixture
def jupyterlab(tmp_path):
    """JupyterLab on a free loopback port, serving a folder with the capacity notebook; stopped after."""
    port, token = _free_port(), uuid.uuid4().hex
    _notebook_copy(tmp_path, f"br-{uuid.uuid4().hex[:6]}")
    env = {k: v for k, v in os.environ.items() if k not in ("WORKSHOP_ENDPOINT", "WORKSHOP_TARGET", "WORKSHOP_RUN_ID")}
    env.update(WORKSHOP_HOME=str(tmp_path / "home"), JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}", "--ServerApp.open_browser=False",
           "--allow-root", "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly"]
    log = open(tmp_path / "jupyterlab.log", "w")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    json.load(r)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(tmp_path / 'jupyterlab.log').read_text()[-800:]}")
                time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _bottlenecks(page) -> list[str]:
    return page.locator(".jp-OutputArea .cap-bottleneck").all_inner_texts()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing: apt-get install -y chromium")
@pytest.mark.skipif(_playwright() is None, reason="playwright is missing: .venv/bin/pip install playwright==1.65.2")
def test_slider_moves_the_bottleneck_in_jupyterlab(jupyterlab):
    """In JupyterLab, after running notebook 10, dragging users to 100 million changes the bottleneck shown."""
    base, token = jupyterlab
    out = ROOT / "build"
    out.mkdir(exist_ok=True)
    with _playwright()() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.route(lambda url: not url.startswith(base), lambda route: route.abort())  # loopback only
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
            page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext.session", timeout=120_000)
            page.wait_for_function("window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
                                   " === 'idle'", timeout=120_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            slider = page.locator(".jp-OutputArea .widget-slider").first
            slider.wait_for(timeout=900_000)
            page.wait_for_function("document.querySelectorAll('.jp-OutputArea .cap-bottleneck').length >= 2",
                                   timeout=60_000)
            error_outputs = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']"
            failed = page.locator(error_outputs).all_inner_texts()
            before = _bottlenecks(page)

            readout = slider.locator(".widget-readout")
            readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("100000000")
            page.keyboard.press("Enter")
            page.wait_for_function(
                "(b) => JSON.stringify([...document.querySelectorAll('.jp-OutputArea .cap-bottleneck')]"
                ".map(e => e.innerText)) !== JSON.stringify(b)", arg=before, timeout=30_000)
            after = _bottlenecks(page)
            no_news = page.get_by_role("button", name="No", exact=True)  # JupyterLab's "official news?" toast
            if no_news.count():
                no_news.first.click()
            page.locator(".cap-compare").first.scroll_into_view_if_needed()
            page.screenshot(path=str(out / "browser-capacity.png"), full_page=False)
        finally:
            browser.close()
    assert before != after, f"bottleneck shown stayed {before}"
    assert len(after) == len(before) >= 2, after  # every stage picked still shows its chart
    assert not failed, f"a cell failed: {failed[0][:300]}"

