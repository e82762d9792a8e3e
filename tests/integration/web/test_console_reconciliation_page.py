"""The console's reconciliation page on the composition root (SQLite): every run is kept whoever ran it (the
worker's schedule, ``cryptopay reconcile``, the console's button) and each check shows its latest result with who
ran it, when, and its differences."""

from __future__ import annotations

import re

from cryptopay.core.identity import Role
from cryptopay_cli.context import use_services
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

from tests.integration.web.test_console_officer_pages import Staff, root  # noqa: F401  (the fixture)


def _row(html: str, check: str) -> str:
    """The results table's row of ``check``, tags stripped."""
    cell = rf'<td class="first"><span class="muted">[^<]*</span> (?:<a [^>]*>)?{re.escape(check)}(?:</a>)?</td>'
    row = re.search(rf"<tr>\s*{cell}.*?</tr>", html, re.S)
    assert row, check
    return " ".join(re.sub(r"<[^>]+>", " ", row.group(0)).split())


def test_every_run_is_kept_and_each_check_shows_its_latest_with_its_differences(root):  # noqa: F811
    """Nothing before the first run; the schedule's clean run, then the CLI's with M-Pesa's balance (a float that
    does not agree: one difference, kept with its figures), then the console's button: each check's row names the
    latest run that could compare, and the differing check's table shows what was expected and found."""
    app, _ = root
    services = app.extensions["cryptopay"].services
    chief = Staff(*root, "chief@cryptopay.example", Role.ADMIN)
    status, html = chief.get("/console/reconciliation")
    assert status == 200 and "No reconciliation has run yet." in html

    services.reconciliation.reconcile_and_alert()  # the worker's scheduled job
    status, html = chief.get("/console/reconciliation")
    assert "Clean: every check agreed." in html
    assert _row(html, "trial-balance").endswith("by the schedule")
    assert "skipped" in _row(html, "mpesa-float")  # the schedule had no Account Balance answer

    previous = use_services(services)
    try:
        result = CliRunner().invoke(build_app(), ["reconcile", "--mpesa-balance", "1234", "--float-baseline", "1000"])
    finally:
        use_services(previous)
    assert result.exit_code == 5, result.output

    status, _body, location = chief.post("/console/reconciliation", "/console/reconciliation")
    assert (status, location) == (303, "/console/reconciliation")
    status, html = chief.get("/console/reconciliation")
    assert status == 200 and "1 checks found differences." in html
    float_row = _row(html, "mpesa-float")
    assert "1 differences" in float_row and re.search(r"by the command line \( ops:\S+ \)$", float_row)
    assert "against a typed Account Balance (1234.00 KES" in float_row  # R10-13: not M-Pesa's own answer
    assert re.search(r"by the console \( user:\S+ \)$", _row(html, "trial-balance"))  # the newest that compared it
    assert "skipped" in _row(html, "mpesa-statement")  # no run had the statement: its latest skip
    section = html[html.index('<section aria-labelledby="check-mpesa-float">') :]
    section = " ".join(re.sub(r"<[^>]+>", " ", section[: section.index("</section>")]).split())
    assert "by the command line" in section and "1234" in section and "Subject Expected Found Details" in section


def test_the_button_needs_its_form_token_and_an_admin(root):  # noqa: F811
    """A post without the form's CSRF token is refused and runs nothing; a compliance officer may not run it."""
    app, _ = root
    services = app.extensions["cryptopay"].services
    chief = Staff(*root, "chief@cryptopay.example", Role.ADMIN)
    assert chief.client.post("/console/reconciliation", data={}).status_code == 403
    ann = Staff(*root, "ann@cryptopay.example", Role.COMPLIANCE)
    assert ann.post("/console/reconciliation", "/console/kyc")[0] == 403
    assert services.reconciliation.latest_results() == []
