"""Headless Chromium for the page tests: the DOM after scripts ran, a probe of the page's
widths, and screenshots kept as test artifacts in `tmp/artifacts/` (or $METRICSPEC_ARTIFACTS)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Added to a copy of a page only: writes the page's widths, and how many elements overflow
# their box or the window, into the DOM.
PROBE = """<script>
window.addEventListener("load", function () {
const d = document.documentElement;
const wide = [...document.querySelectorAll("body *")].filter(e =>
  (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== "visible")
  || e.getBoundingClientRect().right > d.clientWidth + 1);
document.body.setAttribute("data-widths", d.scrollWidth + " " + d.clientWidth + " " + wide.length);
document.body.setAttribute("data-wide",
  wide.slice(0, 5).map(e => e.tagName + "." + e.className).join(","));
});
</script></body>"""


def artifacts() -> Path:
    folder = Path(os.environ.get("METRICSPEC_ARTIFACTS", REPO / "tmp" / "artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def chromium(args: list[str], profile: Path) -> str:
    if CHROMIUM is None:
        if os.environ.get("METRICSPEC_REQUIRE_ENGINES") == "1":
            pytest.fail("Chromium is required (METRICSPEC_REQUIRE_ENGINES=1) but not installed")
        pytest.skip("Chromium is not installed (Debian package `chromium`)")
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=True).stdout


def probed(page: Path, profile: Path, extra: str = "") -> tuple[str, int, int, int, str]:
    """The DOM of `page` at 1280 px with the probe (and `extra` script) run: (dom, scroll
    width, client width, overflowing elements, the first of them)."""
    copy = page.with_name(f".probe-{page.name}")
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", extra + PROBE),
                    encoding="utf-8")
    try:
        dom = chromium(["--window-size=1280,1000", "--virtual-time-budget=3000", "--dump-dom",
                        copy.as_uri()], profile)
    finally:
        copy.unlink()
    found = re.search(r'data-widths="(\d+) (\d+) (\d+)"', dom)
    assert found, "the probe did not run"
    wide = re.search(r'data-wide="([^"]*)"', dom)
    scroll, client, overflowing = map(int, found.groups())
    return dom, scroll, client, overflowing, wide.group(1) if wide else ""


def screenshot(page: Path, name: str, profile: Path, height: int = 1400) -> Path:
    shot = artifacts() / f"{name}.png"
    chromium([f"--screenshot={shot}", f"--window-size=1280,{height}", "--hide-scrollbars",
              page.as_uri()], profile)
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
    return shot
