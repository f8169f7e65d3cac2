"""A headless Chromium for the Mirror's tests, driven by Playwright.

The browser is Debian's `chromium` (installed by scripts/ensure-chromium.sh, run by `make
test`), or the binary IFNS_CHROMIUM names: Playwright's own browser downloads are not used.
Started as the project's CI starts it (root, no display, a closed network): no sandbox, no
GPU, no background networking. A test that needs it skips, saying why, where none is found.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    for name in (os.environ.get("IFNS_CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome"):
        if name and (found := shutil.which(name)):
            return found
    return None


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip install -e '.[dev]')")
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium found: run scripts/ensure-chromium.sh as root, or set "
                    "IFNS_CHROMIUM to a Chromium binary")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=FLAGS)
        yield browser
        browser.close()


class Page:
    """A browser page that records what a reviewer would not want: script errors, dialogs
    (an alert means a value ran as code) and any request that leaves the disk."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("dialog", self._dialog)
        page.on("request", lambda r: None if r.url.startswith("file://")
                else self.requests.append(r.url))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: Path, query: str = "") -> Any:
        self.page.goto(path.resolve().as_uri() + query)
        self.page.wait_for_load_state("load")
        return self.page

    def clean(self) -> None:
        assert self.errors == [] and self.dialogs == [] and self.requests == [], \
            (self.errors, self.dialogs, self.requests)


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = Page(context.new_page())
    yield page
    context.close()


def screenshot(page: Any, name: str) -> Path:
    """A full-page screenshot under IFNS_SCREENSHOTS (default outputs/screenshots)."""
    folder = Path(os.environ.get("IFNS_SCREENSHOTS", "outputs/screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
