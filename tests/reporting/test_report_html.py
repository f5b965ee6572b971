"""`snakemake --report` on the `.test` config: every table (with intervals), figure and training
page is in the report, and a real headless browser renders Table 2 inside it.

The workflow run takes ~7 minutes on 2 cores (slow). To check a report of results you already
built, point O1PRUNER_REPORT_RESULTS at them (e.g. ``results-test`` after
``snakemake --cores 1 --configfile .test/config.yaml``); the report is then rebuilt from those.
The browser test needs Debian's ``chromium`` (``.ci/run`` installs it) and skips without it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path

import pytest

from o1pruner.reporting.tables import markdown_to_html
from tests.conftest import snakemake

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_markdown_to_html_keeps_cells_and_escapes():
    md = "### a & b\n\n| m | x |\n| --- | ---: |\n| O1-Pruner | 1.0 ± 0.5* |\n| a\\|b | 2 |\n\nnote <i>\n"
    page = markdown_to_html(md, "T")
    assert "<h3>a &amp; b</h3>" in page and "<td class=r>1.0 ± 0.5*</td>" in page
    assert "<td>a|b</td>" in page and "note &lt;i&gt;" in page and page.count("<tr>") == 3


@pytest.fixture(scope="module")
def built_results(tiny_run) -> tuple[Path, list[str]]:
    """(results folder, snakemake config args) of the finished `.test` run (conftest.tiny_run)."""
    return tiny_run, ["--configfile", ".test/config.yaml", "--config", f"results={tiny_run}"]


@pytest.fixture(scope="module")
def report(built_results, tmp_path_factory) -> tuple[Path, dict]:
    results, args = built_results
    out = tmp_path_factory.mktemp("html") / "report.html"
    res = snakemake("--cores", "1", *args, "--report", str(out), timeout=900)
    assert res.returncode == 0 and out.exists(), (res.stdout + res.stderr)[-4000:]
    text = out.read_text()
    m = re.search(r"var results = (\{.*?\});\s*\n", text, flags=re.S)
    assert m, "no results object in the report"
    return out, json.loads(m.group(1))


def _embedded(entry: dict) -> str:
    """The text of a result embedded in the report as a data URI."""
    head, data = entry["data_uri"].split(",", 1)
    return base64.b64decode(data).decode() if ";base64" in head else urllib.parse.unquote(data)


def _find(results: dict, suffix: str) -> dict:
    hits = [v for k, v in results.items() if k.endswith(suffix)]
    assert hits, f"{suffix} is not in the report; it has {sorted(results)}"
    return hits[0]


@pytest.mark.slow
def test_report_holds_tables_with_intervals_figures_and_training_pages(report):
    _, results = report
    t2 = _embedded(_find(results, "tables/table2.html"))
    assert "O1-Pruner" in t2 and " ± " in t2 and "dAcc" in t2 and "interval excludes 0" in t2
    assert " ± " in _embedded(_find(results, "tables/table3.html"))
    lbd = _embedded(_find(results, "tables/length_by_difficulty.html"))
    assert "shorten easy problems more than hard ones" in lbd
    pareto = _embedded(_find(results, "tables/pareto.html"))
    assert "O1-Pruner (λ=0)" in pareto and "dominated by" in pareto
    for f in ("figure3.png", "figure4.png", "figure5.png", "length_by_difficulty.png",
              "training_toy_sft.png", "training_toy_dpo.png", "training_toy_lh_lambda_2.png"):
        assert _find(results, f)["data_uri"].startswith("data:image/png")
    captions = " ".join(v.get("caption", "") for v in results.values())
    assert "paired bootstrap over problems" in captions and "lh_clip_frac" in captions
    assert "Pareto front" in captions and "point estimates" in captions


def _screenshot(page: Path, png: Path, size=(1600, 800)) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                        "--virtual-time-budget=10000", f"--window-size={size[0]},{size[1]}",
                        f"--screenshot={png}", page.as_uri()],
                       check=True, capture_output=True, timeout=180)


def _showing(report_html: Path, data_uri: str, key: str, out: Path) -> Path:
    """The report page, opened on one result (what a click on it in the menu shows)."""
    script = ("<script>window.addEventListener('load', () => setTimeout(() => app.setView({"
              f"content: 'html', navbarMode: 'resultinfo', resultPath: {json.dumps(key)}, "
              f"contentPath: {json.dumps(data_uri)}}}), 300));</script>")
    head, sep, tail = report_html.read_text().rpartition("</body>")
    out.write_text(head + script + sep + tail)
    return out


def _ink(png: Path, left: float) -> float:
    """Fraction of non-white pixels right of ``left`` (share of the width): the content pane."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("L"))
    return float((pixels[:, int(pixels.shape[1] * left):] < 200).mean())


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_browser_renders_table2_in_the_report(report, tmp_path):
    out, results = report
    key = next(k for k in results if k.endswith("tables/table2.html"))
    table = _showing(out, results[key]["data_uri"], key, tmp_path / "table2.html")
    blank = _showing(out, "data:text/html,<p></p>", key, tmp_path / "blank.html")
    _screenshot(table, tmp_path / "table2.png")
    _screenshot(blank, tmp_path / "blank.png")
    shot = os.environ.get("O1PRUNER_SCREENSHOT")
    if shot:  # keep it to look at
        shutil.copy(tmp_path / "table2.png", shot)
    # the report's content pane: the table's text and borders against an empty page
    assert _ink(tmp_path / "table2.png", 0.55) > 0.01
    assert _ink(tmp_path / "blank.png", 0.55) < 0.001
