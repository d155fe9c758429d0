"""Fixtures of the browser tests: one JupyterLab server per session, Debian Chromium through
Playwright, kernel clients on the notebooks' kernels, and a console-error check around every
test. The recipe is ../shared/BROWSER_TESTING.md; the machinery is in ``harness.py``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    ARTIFACTS,
    ConsoleLog,
    JupyterServer,
    launch,
    new_page,
)

#: every page the tests opened, with its console log (checked around each test)
_PAGES: list[tuple[object, ConsoleLog]] = []


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# Module scope on purpose: while Playwright's sync API is open it keeps an asyncio loop running
# in the main thread, which would leak into later test modules (asyncio.run fails there).
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    server = JupyterServer(tmp_path_factory.mktemp("lab"), "jupyterlab").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def notebook_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    server = JupyterServer(tmp_path_factory.mktemp("nb7"), "notebook").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def open_page(browser: object) -> Iterator:
    """``open_page()`` -> (page, console log); closed at the end of the module."""
    contexts = []

    def factory() -> tuple[object, ConsoleLog]:
        ctx, page, log = new_page(browser)
        contexts.append(ctx)
        _PAGES.append((page, log))
        return page, log

    yield factory
    for ctx in contexts:
        ctx.close()


@pytest.fixture(autouse=True)
def no_console_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """No console error and no uncaught page error in any page since the last check (so what
    a module-scoped fixture's page logged while it set up counts against its first test)."""
    yield
    found = []
    for _, log in _PAGES:
        found += log.errors(log.checked)
        log.checked = len(log.entries)
    assert not found, f"browser console errors during {request.node.name}:\n" + "\n".join(found)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator:
    report = yield
    if report.when == "call" and report.failed and _PAGES:
        ARTIFACTS.mkdir(exist_ok=True)
        for i, (page, _) in enumerate(_PAGES):
            try:
                if not page.is_closed():
                    page.screenshot(path=str(ARTIFACTS / f"FAILED-{item.name}-{i}.png"))
            except Exception:  # noqa: BLE001 (a screenshot must not hide the failure)
                pass
    return report
