"""One real stack and one Chromium for every browser test of the session (they are few and share both).

Package-scoped: the stack (anvil mining a block a second, the worker polling) and Chromium stop after the last
browser test instead of burning CPU beside the rest of the suite; under ``make test``'s workers they run on one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay_cli.demo_e2e import Demo

from tests.browser.support import BROWSER_ENV, CHROMIUM, Admin, Merchant, Staff


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """Sandbox (anvil with 1-second blocks, the simulators), the API and the inline worker, on SQLite."""
    workdir: Path = tmp_path_factory.mktemp("browser") / "stack"
    with Demo(workdir, lambda _line: None, env=BROWSER_ENV).running() as demo:
        yield demo


@pytest.fixture(scope="package")
def merchant(live: Demo) -> Merchant:
    return Merchant(live)


@pytest.fixture(scope="package")
def admin(live: Demo) -> Admin:
    return Admin(live)


@pytest.fixture(scope="package")
def officers(live: Demo, admin: Admin, browser: object) -> tuple[Staff, Staff]:
    """Two compliance officers (four-eyes needs two), not made staff by the same person (review10 R10-8): Ann by
    the operator's shell, Bob by the stack's admin on the console."""
    ann = Staff(live, "ann@cryptopay.example", "compliance")
    return ann, Staff(live, "bob@cryptopay.example", "compliance", made_by=(admin, browser))


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/with-services.sh does it as root)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()
