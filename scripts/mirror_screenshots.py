"""The README's screenshots of the Mirror, taken from a real sweep on the demo data.

    .venv/bin/python scripts/mirror_screenshots.py [--out docs/images] [--keep WORK_DIR]

Trains a four-trial sweep (model.lr x model.hidden_sizes) in a fresh project root, builds its
Mirror with `ifns-admin mirror`, and photographs in headless Chromium at 1,400 pixels wide
(tests/browser.py's browser and flags): the pictures of one model's page
(`mirror-model.png`) and the family table with the hyperparameters that differ between the
trials (`mirror-family.png`), and the search's page with its PBO (`mirror-sweep.png`).
Each is reduced to a 256-colour palette to stay small. About two minutes on two cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser import FLAGS, chromium_path  # noqa: E402  (the tests' browser, reused)

SWEEP = ["-m", "model.lr=0.001,0.003", "model.hidden_sizes=[64,32],[128,64]",
         "print_config=false"]
FAMILY = "MF_DIR_CORE_V1"


def run(*args: str, cwd: Path) -> None:
    env = {**os.environ, "IFNS_ROOT": str(cwd)}
    subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env, check=True)


def small_png(path: Path) -> None:
    """A 256-colour palette: the pages are flat colours and lines, so nothing shows."""
    Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    parser.add_argument("--keep", type=Path, default=None,
                        help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="ifns-shots-"))
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "registry" / "registry.db").exists():
        run("ifns_train", *SWEEP, cwd=work)
    site = work / "site"
    run("ifns_train.sxe.admin", "mirror", "--out", str(site), cwd=work)
    args.out.mkdir(parents=True, exist_ok=True)
    browser_path = chromium_path()
    if browser_path is None:
        sys.exit("no Chromium found: run scripts/ensure-chromium.sh as root, or set "
                 "IFNS_CHROMIUM")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto((site / "families" / f"{FAMILY}.html").as_uri())
        page.wait_for_selector("table[data-role=rows] tbody tr")
        family = args.out / "mirror-family.png"
        page.locator("main").screenshot(path=str(family))
        model = page.locator("table[data-role=rows] tbody a").first.get_attribute("href")
        page.goto((site / "families" / str(model)).resolve().as_uri())
        curves = page.locator("#curves")
        curves.scroll_into_view_if_needed()
        for img in curves.locator("img").all():  # lazy: each loaded before the shot
            img.scroll_into_view_if_needed()
            img.evaluate("e => e.complete || new Promise(done => e.onload = done)")
        shot = args.out / "mirror-model.png"
        curves.screenshot(path=str(shot))
        page.goto(next((site / "sweeps").glob("*.html")).resolve().as_uri())
        search = args.out / "mirror-sweep.png"
        page.locator("main").screenshot(path=str(search))
        browser.close()
    for path in (family, shot, search):
        small_png(path)
        print(f"{path}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
