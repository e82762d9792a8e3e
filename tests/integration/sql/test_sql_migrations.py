"""The same migrations go up and down on SQLite and PostgreSQL, and SQLite keeps its own safety nets."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from cryptopay.adapters.sql import SqlLedgerStore, current, downgrade, head, make_engine, upgrade
from cryptopay.adapters.sql.errors import translating
from cryptopay.core.errors import InsufficientFunds
from cryptopay.core.ledger import Account, AccountKind, Ledger
from cryptopay.core.money import KES, Money
from sqlalchemy import exc, text

from tests.support.sql_backends import create_database

TABLES = {
    "ledger_accounts",
    "ledger_entries",
    "ledger_lines",
    "ledger_holds",
    "ledger_idempotency",
    "audit_log",
    "audit_head",
    "outbox",
}


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database that was never migrated."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh' / 'cryptopay.db'}"
        return
    admin = request.getfixturevalue("postgres_admin_url")
    name = f"cryptopay_migrate_{secrets.token_hex(4)}"
    create_database(admin, name)
    yield f"{admin.rpartition('/')[0]}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_url: str) -> None:
    """Upgrading creates every table, downgrading to base removes them, and upgrading again works."""
    assert current(empty_url) is None
    assert upgrade(empty_url) == head()
    assert current(empty_url) == head()
    assert _tables(empty_url) >= TABLES
    assert downgrade(empty_url, "base") is None
    assert not (TABLES & _tables(empty_url))
    assert upgrade(empty_url) == head()


def test_sqlite_checks_and_append_only_triggers(tmp_path: Path) -> None:
    """On SQLite too, a forbidden negative balance and edits of posted lines are refused by the database."""
    url = f"sqlite:///{tmp_path / 'nets.db'}"
    upgrade(url)
    engine = make_engine(url)
    ledger = Ledger(SqlLedgerStore(engine))
    ledger.open_account(Account("assets:bank:KES", AccountKind.ASSET, KES, allow_negative=True))
    ledger.open_account(Account("liabilities:user:a:KES", AccountKind.LIABILITY, KES))
    ledger.transfer("t1", debit="assets:bank:KES", credit="liabilities:user:a:KES", amount=Money.of("5", KES))
    with pytest.raises(InsufficientFunds), translating(), engine.begin() as conn:
        conn.execute(text("UPDATE ledger_accounts SET available = '-1.00' WHERE code = 'liabilities:user:a:KES'"))
    with pytest.raises(exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE ledger_lines SET amount = '0.01'"))
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_payouts_made_before_0022_get_their_owner_and_kind(empty_url: str) -> None:
    """A wallet's sale payout stored before payouts named their owner is listed under its user after the upgrade,
    as a sale; a settlement's payout stays its merchant's."""
    import json
    from datetime import UTC, datetime

    from cryptopay.adapters.sql.documents import document
    from cryptopay.adapters.sql.uow import SqlStorage
    from cryptopay.core.payouts import Payout, PayoutKind
    from cryptopay.core.settlement import SettlementMethod

    upgrade(empty_url, "0021")
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            for payout_id, owner, reference in (("po_1", "usr_1", "sel_1"), ("po_2", "m1", "stl_1")):
                payout = Payout(
                    id=payout_id,
                    settlement_id=reference,
                    merchant_id=owner,
                    originator_id=payout_id,
                    method=SettlementMethod.MPESA_B2C,
                    destination="254712345678",
                    amount=Money.of(100, KES),
                    charge=Money.zero(KES),
                    hold_id=f"hld_{payout_id}",
                    created_at=at,
                )
                doc = {k: v for k, v in json.loads(json.dumps(document(payout))).items() if k != "kind"}
                conn.execute(
                    text(
                        "INSERT INTO payouts (id, settlement_id, originator_id, state, destination, created_at, doc) "
                        "VALUES (:id, :ref, :id, 'planned', '254712345678', :at, :doc)"
                    ),
                    {"id": payout_id, "ref": reference, "at": at, "doc": json.dumps(doc)},
                )
        upgrade(empty_url)
        with SqlStorage(engine).unit_of_work() as uow:
            sale = uow.payouts.list_for_merchant("usr_1", before=None, limit=9)
            assert [(p.id, p.kind) for p in sale] == [("po_1", PayoutKind.SALE)]
            assert [p.kind for p in uow.payouts.list_for_merchant("m1", before=None, limit=9)] == [
                PayoutKind.SETTLEMENT
            ]
    finally:
        engine.dispose()


def test_invoice_search_columns_are_filled_from_the_documents(empty_url: str) -> None:
    """0025 fills ``created_at`` and the casefolded ``order_key`` of invoices stored before it."""
    upgrade(empty_url, "0024")
    engine = make_engine(empty_url)
    doc = '{"id": "inv_1", "order_id": "Duka-ÄB", "created_at": "2026-01-05T09:00:00+00:00"}'
    row = {"id": "inv_1", "merchant_id": "m1", "state": "new", "unconfirmed": False, "doc": doc}
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO invoices (id, merchant_id, state, expires_at, monitoring_until, unconfirmed, doc) "
                    "VALUES (:id, :merchant_id, :state, '2026-01-05 10:00:00', '2026-01-05 10:00:00', :unconfirmed, "
                    ":doc)"
                ),
                row,
            )
        upgrade(empty_url, "0025")
        with engine.connect() as conn:
            created, key = conn.execute(text("SELECT created_at, order_key FROM invoices")).one()
        assert key == "duka-äb" and str(created).startswith("2026-01-05 09:00:00")
    finally:
        engine.dispose()


def test_invoice_exceptions_are_filled_from_the_documents(empty_url: str) -> None:
    """0040 fills ``exception`` of invoices stored before it from their documents (``none`` is NULL)."""
    upgrade(empty_url, "0041")
    engine = make_engine(empty_url)
    insert = text(
        "INSERT INTO invoices (id, merchant_id, state, expires_at, monitoring_until, unconfirmed, doc) "
        "VALUES (:id, 'm1', 'settled', '2026-01-05 10:00:00', '2026-01-05 10:00:00', false, :doc)"
    )
    try:
        with engine.begin() as conn:
            conn.execute(insert, {"id": "inv_1", "doc": '{"id": "inv_1", "exception": "paid_late"}'})
            conn.execute(insert, {"id": "inv_2", "doc": '{"id": "inv_2", "exception": "none"}'})
        upgrade(empty_url, "0040")
        with engine.connect() as conn:
            found = dict(conn.execute(text("SELECT id, exception FROM invoices ORDER BY id")).all())
        assert found == {"inv_1": "paid_late", "inv_2": None}
    finally:
        engine.dispose()


def test_payment_link_uses_are_filled_from_the_invoices_and_abandoned_ones_given_back(empty_url: str) -> None:
    """0058 gives each link invoice its use row, held unless it ended with nothing paid, and recounts the link: a
    link closed by two abandoned checkouts (review H4) opens again; the cap no longer binds the column."""
    upgrade(empty_url, "0048")
    engine = make_engine(empty_url)
    link = text(
        "INSERT INTO payment_links (id, public_id, merchant_id, active, max_uses, uses, doc) "
        "VALUES ('lnk_1', 'pl_1', 'm1', true, 3, 3, '{}')"
    )
    invoice = text(
        "INSERT INTO invoices (id, merchant_id, state, expires_at, monitoring_until, unconfirmed, created_at, doc) "
        "VALUES (:id, :merchant, :state, '2026-01-05 10:00:00', '2026-01-05 10:00:00', false, "
        "'2026-01-05 09:00:00', :doc)"
    )
    late = '[{"withdrawn": false}]'
    rows = [
        ("inv_open", "m1", "new", '{"metadata": {"payment_link": "lnk_1"}, "payments": []}'),
        ("inv_gone", "m1", "expired", '{"metadata": {"payment_link": "lnk_1"}, "payments": []}'),
        ("inv_late", "m1", "expired", '{"metadata": {"payment_link": "lnk_1"}, "payments": ' + late + "}"),
        ("inv_other", "m2", "new", '{"metadata": {"payment_link": "lnk_1"}, "payments": []}'),  # not the link's
        ("inv_shop", "m1", "new", '{"metadata": {"cart": "c1"}, "payments": []}'),
    ]
    try:
        with engine.begin() as conn:
            conn.execute(link)
            for invoice_id, merchant, state, doc in rows:
                conn.execute(invoice, {"id": invoice_id, "merchant": merchant, "state": state, "doc": doc})
        upgrade(empty_url, "0058")
        with engine.begin() as conn:
            held = dict(conn.execute(text("SELECT invoice_id, held FROM payment_link_uses ORDER BY invoice_id")).all())
            assert {k: bool(v) for k, v in held.items()} == {"inv_gone": False, "inv_late": True, "inv_open": True}
            assert conn.execute(text("SELECT uses FROM payment_links")).scalar_one() == 2
            conn.execute(text("UPDATE payment_links SET uses = 4"))  # a late payment may take a link past its cap
    finally:
        engine.dispose()


def test_the_dead_letter_counter_starts_at_the_deliveries_dead_now(empty_url: str) -> None:
    """0064 starts ``webhook_counters.dead_lettered`` at the number of dead deliveries (each was dead-lettered at
    least once)."""
    upgrade(empty_url, "0058")
    engine = make_engine(empty_url)
    delivery = text(
        "INSERT INTO webhook_deliveries (id, endpoint_id, merchant_id, event_id, event_type, body, created_at, "
        "next_attempt_at, status, attempts, failures) VALUES (:id, 'whe_1', 'm1', :id, 'invoice.paid', '{}', "
        "'2026-01-05 09:00:00', '2026-01-05 09:00:00', :status, 9, 9)"
    )
    try:
        with engine.begin() as conn:
            for n, status in enumerate(("dead", "dead", "delivered", "retrying")):
                conn.execute(delivery, {"id": f"whd_{n}", "status": status})
        upgrade(empty_url, "0064")
        with engine.begin() as conn:
            query = text("SELECT value FROM webhook_counters WHERE name = 'dead_lettered'")
            assert conn.execute(query).scalar_one() == 2
    finally:
        engine.dispose()


def test_disabled_accounts_get_the_time_the_audit_log_gives(empty_url: str) -> None:
    """0072 adds ``users.disabled_at``: a released account gets its ``auth.email_released`` time, an erased profile
    its ``privacy.anonymised`` time (its own rule ``profile``, or its merchant's ``merchant_people``, as owner or
    member); an account the log says nothing of, or a usable one, stays NULL."""
    upgrade(empty_url, "0064")
    engine = make_engine(empty_url)
    user = text(
        "INSERT INTO users (id, email, password_hash, role, created_at, session_version, totp_last_step) "
        "VALUES (:id, NULL, :hash, 'merchant', '2026-01-05 09:00:00', 0, 0)"
    )
    audit = text(
        "INSERT INTO audit_log (seq, id, at, actor, action, subject, details, prev_hash, hash) "
        "VALUES (:seq, :id, :at, 'x', :action, :subject, :details, '0', '0')"
    )
    users = {
        "usr_released": "h",
        "usr_erased": "!erased",
        "usr_owner": "!erased",
        "usr_member": "!erased",
        "usr_quiet": "!erased",  # erased before the log said so: no time to give
        "usr_active": "h",
    }
    records = [
        ("2026-02-01 10:00:00", "auth.email_released", "user:usr_released", "[]"),
        ("2026-02-02 10:00:00", "privacy.anonymised", "user:usr_erased", '[["rules","financial,profile"]]'),
        ("2026-02-03 10:00:00", "privacy.anonymised", "user:usr_active", '[["rules","sessions"]]'),
        ("2026-02-04 10:00:00", "privacy.anonymised", "merchant:mer_1", '[["rules","kyb,merchant_people"]]'),
        ("2026-02-05 10:00:00", "auth.login", "user:usr_active", "[]"),
    ]
    try:
        with engine.begin() as conn:
            for user_id, password_hash in users.items():
                conn.execute(user, {"id": user_id, "hash": password_hash})
            conn.execute(
                text(
                    "INSERT INTO merchants (id, owner_user_id, business_name, settlement_schedule, settlement_method, "
                    "settlement_destination, created_at, updated_at) VALUES ('mer_1', 'usr_owner', 'Duka', 'daily', "
                    "'mpesa_b2c', 'erased', '2026-01-05 09:00:00', '2026-01-05 09:00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO merchant_members (user_id, merchant_id, role, added_at, added_by) "
                    "VALUES ('usr_member', 'mer_1', 'staff', '2026-01-05 09:00:00', 'usr_owner')"
                )
            )
            for seq, (at, action, subject, details) in enumerate(records, start=1):
                values = {"seq": seq, "id": f"aud_{seq}", "at": at, "action": action, "subject": subject}
                conn.execute(audit, {**values, "details": details})
        upgrade(empty_url, "0072")
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT id, disabled_at FROM users")).all()
            found = {row[0]: str(row[1])[:19] if row[1] is not None else None for row in rows}
        assert found == {
            "usr_released": "2026-02-01 10:00:00",
            "usr_erased": "2026-02-02 10:00:00",
            "usr_owner": "2026-02-04 10:00:00",
            "usr_member": "2026-02-04 10:00:00",
            "usr_quiet": None,
            "usr_active": None,
        }
        downgrade(empty_url, "0064")
        upgrade(empty_url, "0072")  # down and up again
    finally:
        engine.dispose()


def test_usernames_get_their_skeleton_and_older_look_alikes_keep_it(empty_url: str) -> None:
    """0138 (review5 S1) stores each username's look-alike skeleton under a unique index: of look-alikes taken
    before the rule the older wallet keeps it (the younger keeps its username, with no skeleton, and is reported);
    a new look-alike is then refused by the index."""
    upgrade(empty_url, "0110")
    engine = make_engine(empty_url)
    wallet = text("INSERT INTO wallets (id, phone, username, doc) VALUES (:id, :phone, :username, :doc)")
    rows = [
        ("usr_new", "h2", "b0b_k", '{"created_at": "2026-03-01T10:00:00+00:00"}'),
        ("usr_old", "h1", "bob_k", '{"created_at": "2026-01-01T10:00:00+00:00"}'),
        ("usr_carol", "h3", "carol", '{"created_at": "2026-02-01T10:00:00+00:00"}'),
        ("usr_none", "h4", None, '{"created_at": "2026-02-01T10:00:00+00:00"}'),
    ]
    try:
        with engine.begin() as conn:
            for user_id, phone, username, doc in rows:
                conn.execute(wallet, {"id": user_id, "phone": phone, "username": username, "doc": doc})
        upgrade(empty_url, "0138")
        with engine.begin() as conn:
            found = dict(conn.execute(text("SELECT id, username_skeleton FROM wallets")).all())
        assert found == {"usr_old": "bobk", "usr_new": None, "usr_carol": "caroi", "usr_none": None}
        with pytest.raises(exc.IntegrityError), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO wallets (id, phone, username, username_skeleton, doc) "
                    "VALUES ('usr_x', 'h5', 'bo8_k', 'bobk', '{}')"
                )
            )
    finally:
        engine.dispose()


def test_refunds_funded_before_0161_get_what_was_funded_and_owed_from_their_funding_entry(empty_url: str) -> None:
    """0161 fills a funded refund's ``funded`` and ``owed`` from its ``refund:<id>:fund`` entry (the downgrade
    removes them, the upgrade puts them back the same); an unfunded refund is left without them."""
    from cryptopay.adapters.sql.uow import SqlStorage
    from cryptopay.core.money import USDT
    from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule

    from tests.contract.test_payments_repository_contract import SqlPaymentsStack
    from tests.contract.test_refund_after_settlement_contract import _paid, _refund, _settle

    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        payments = SqlPaymentsStack(SqlStorage(engine))
        profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")
        payments.add_merchant("m1", settlement=profile)
        invoice_id = _paid(payments, "100")
        covered = _refund(payments, _paid(payments, "10"), "1")  # its balance covers it: nothing funded
        _settle(payments, 0)
        funded = _refund(payments, invoice_id, "60")
        downgrade(empty_url, "0160")
        with payments.uow() as uow:
            assert (uow.refunds.get(funded.id).funded, uow.refunds.get(funded.id).owed) == (None, None)
        upgrade(empty_url)
        with payments.uow() as uow:
            after, plain = uow.refunds.get(funded.id), uow.refunds.get(covered.id)
        assert (after.funded, after.owed) == (Money.of("60", USDT), Money.of("7839", KES))
        assert (plain.funded, plain.owed) == (None, None)
    finally:
        engine.dispose()


def test_a_batch_migration_upgrades_a_database_whose_rows_reference_the_recreated_table(empty_url: str) -> None:
    """Review6 F10: 0160 recreates ``webhook_deliveries`` on SQLite (a batch migration), which
    ``webhook_attempts`` references; with the engine's foreign keys on, an existing database holding an attempt
    could not be upgraded (``DROP TABLE``: FOREIGN KEY constraint failed) and ``serve`` did not start. Migrations run
    with them off and checked before the commit, and the rows survive."""
    upgrade(empty_url, "0155")
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO webhook_deliveries (id, endpoint_id, merchant_id, event_id, event_type, body, "
                    "created_at, next_attempt_at, status, attempts, failures) VALUES ('whd_1', 'whe_1', 'm1', "
                    "'evt_1', 'invoice.paid', '{}', '2026-01-05 09:00:00', '2026-01-05 09:00:00', 'delivered', 1, 0)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO webhook_attempts (delivery_id, number, at, status_code, response_snippet, "
                    "duration_ms) VALUES ('whd_1', 1, '2026-01-05 09:00:01', 200, 'ok', 12)"
                )
            )
        assert upgrade(empty_url) == head()
        with engine.begin() as conn:
            rows = conn.execute(
                text(
                    "SELECT d.id, d.payload_version, a.number FROM webhook_deliveries d "
                    "JOIN webhook_attempts a ON a.delivery_id = d.id"
                )
            ).all()
            assert [tuple(r) for r in rows] == [("whd_1", 1, 1)]
            if empty_url.startswith("sqlite"):  # the engine's connections keep their foreign keys on
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    finally:
        engine.dispose()


def _as_before_r5(engine: sa.Engine, invoice_id: str) -> None:
    """The invoice's row as review8 R5's change found it: its held payment without the decision's mark, and the
    state it read while the held payment did not count (``new``)."""
    import json

    from cryptopay.adapters.sql.types import document_text

    with engine.begin() as conn:
        doc = json.loads(conn.execute(text("SELECT doc FROM invoices WHERE id = :id"), {"id": invoice_id}).scalar_one())
        for payment in doc["payments"]:
            del payment["released"], payment["kept_out"]
        doc["state"] = "new"
        conn.execute(
            text("UPDATE invoices SET doc = :doc, state = 'new' WHERE id = :id"),
            {"doc": document_text(doc), "id": invoice_id},
        )


def test_held_payments_decided_before_r5_get_their_decision_marked_on_the_invoice(empty_url: str) -> None:
    """0270 (lastread A8): a held payment released, and one kept, before R5's change carry no mark on their invoice,
    so a refresh read them awaiting an officer (``processing``); after it, from the credits' decisions, the released
    one settles its invoice and the kept one counts no more (expired), while one still awaiting stays ``processing``."""
    from cryptopay.adapters.sql.uow import SqlStorage
    from cryptopay.core.invoices import InvoiceState

    from tests.contract.test_payments_repository_contract import SqlPaymentsStack
    from tests.unit.payments.test_sanctioned_payers import LISTED, _paid_from, with_lists

    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        stack = with_lists(SqlPaymentsStack(SqlStorage(engine)))
        released, kept, waiting = (_paid_from(stack, LISTED) for _ in range(3))
        credits = {c.invoice_id: c.id for c in stack.held_payments.waiting()}
        stack.held_payments.release(credits[released], officer="usr_ann", note="delisted")
        stack.held_payments.approve(credits[released], officer="usr_ben")
        stack.held_payments.keep(credits[kept], officer="usr_ann", note="for the authorities")
        for invoice_id in (released, kept, waiting):
            _as_before_r5(engine, invoice_id)
        downgrade(empty_url, "0200")
        upgrade(empty_url)
        stack.tick(hours=25)
        marks = {i: [(p.released, p.kept_out) for p in stack.invoice(i).payments] for i in (released, kept, waiting)}
        assert marks == {released: [(True, False)], kept: [(False, True)], waiting: [(False, False)]}
        states = {i: stack.invoice(i).state for i in (released, kept, waiting)}
        assert states == {
            released: InvoiceState.SETTLED,
            kept: InvoiceState.EXPIRED,
            waiting: InvoiceState.PROCESSING,
        }
    finally:
        engine.dispose()


def test_held_sends_kept_then_decided_before_0271_no_longer_read_kept(empty_url: str) -> None:
    """0271: a held send kept by an officer and then returned kept its keep mark (the console, the CLI and the API
    read it kept too); the migration clears it from decided sends and leaves a send still held and kept as it is."""
    import json

    from cryptopay.adapters.sql.types import document_text
    from cryptopay.core.wallets.model import HeldSendDecision, TransferState

    from tests.contract.test_wallet_held_sends_contract import OFFICER, _approved
    from tests.support.sql_backends import sql_backend
    from tests.support.wallet_stack import wallet_stack

    upgrade(empty_url)
    backend = sql_backend("migrated", empty_url)
    assert backend.engine is not None
    try:
        stack = wallet_stack(backend)
        amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
        stack.fund(amina, "1000", "KES")
        stack.wallets.freeze(baraka.id, reason="reported stolen phone", actor="admin:ops")
        back, waiting = (stack.wallets.send(amina.id, "0712000002", Money.of("100", KES)) for _ in range(2))
        held = stack.wallets.held_sends()
        for sent in (back, waiting):
            held.keep(sent.id, officer=OFFICER, note="the police asked us to keep it")
        with backend.engine.connect() as conn:
            found = conn.execute(text("SELECT doc FROM wallet_transfers WHERE id = :id"), {"id": back.id})
            kept_doc = json.loads(found.scalar_one())["kept"]
        _approved(held, back.id, HeldSendDecision.RETURN, "the phone was stolen")
        with backend.engine.begin() as conn:  # as the code before 0271 left it: returned, still marked kept
            doc = json.loads(
                conn.execute(text("SELECT doc FROM wallet_transfers WHERE id = :id"), {"id": back.id}).scalar_one()
            )
            doc["kept"] = kept_doc
            conn.execute(
                text("UPDATE wallet_transfers SET doc = :doc WHERE id = :id"),
                {"doc": document_text(doc), "id": back.id},
            )
        assert held.get(back.id).kept is not None
        downgrade(empty_url, "0270")
        upgrade(empty_url)
        assert (held.get(back.id).state, held.get(back.id).kept) == (TransferState.RETURNED, None)
        assert held.get(waiting.id).state is TransferState.HELD and held.get(waiting.id).kept is not None
    finally:
        backend.engine.dispose()


def test_staff_made_before_0278_get_who_appointed_them_from_the_audit_trail(empty_url: str) -> None:
    """Review10 R10-8: 0278 fills ``appointed_by``/``appointed_at`` of staff accounts from the audit trail's last
    ``user.admin_created`` or ``user.role_changed`` to a staff role; a role change away from staff is not an
    appointment, and a staff account without a record (or a personal one) keeps none."""
    from datetime import UTC, datetime, timedelta

    from cryptopay.adapters.sql.audit import SqlAuditTrail
    from cryptopay.core.audit import AuditEvent

    upgrade(empty_url, "0271")
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            for user_id, role in (
                ("usr_ann", "compliance"),
                ("usr_bob", "admin"),
                ("usr_old", "admin"),
                ("usr_p", "personal"),
            ):
                conn.execute(
                    text(
                        "INSERT INTO users (id, password_hash, role, created_at, session_version, totp_last_step) "
                        "VALUES (:id, 'x', :role, :at, 0, 0)"
                    ),
                    {"id": user_id, "role": role, "at": at},
                )
        trail = SqlAuditTrail(engine)
        for actor, action, subject, hours, details in (
            ("ops:amina", "user.admin_created", "user:usr_ann", 0, {"role": "admin"}),
            ("user:usr_chief", "user.role_changed", "user:usr_ann", 1, {"before": "admin", "after": "compliance"}),
            ("ops:juma", "user.role_changed", "user:usr_p", 2, {"before": "admin", "after": "personal"}),
            ("ops:juma", "user.admin_created", "user:usr_bob", 3, {"role": "admin"}),
        ):
            trail.append(AuditEvent(actor, action, subject, at + timedelta(hours=hours), details))
        upgrade(empty_url)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, appointed_by, appointed_at FROM users ORDER BY id")).all()
        found = {r[0]: (r[1], r[2] is not None) for r in rows}
        assert found == {
            "usr_ann": ("user:usr_chief", True),
            "usr_bob": ("ops:juma", True),
            "usr_old": (None, False),
            "usr_p": (None, False),
        }
    finally:
        engine.dispose()


def test_payout_receipts_are_filled_from_the_documents(empty_url: str) -> None:
    """0295 fills ``receipt`` of payouts stored before it from their documents (NULL for none), so they are found by
    their receipt through the index."""
    upgrade(empty_url, "0293")
    engine = make_engine(empty_url)
    insert = text(
        "INSERT INTO payouts (id, settlement_id, merchant_id, state, destination, created_at, doc) "
        "VALUES (:id, 'stl_1', 'm1', :state, 'h', '2026-01-05 10:00:00', :doc)"
    )
    try:
        with engine.begin() as conn:
            conn.execute(insert, {"id": "po_1", "state": "completed", "doc": '{"id": "po_1", "receipt": "SBX1PAID"}'})
            conn.execute(insert, {"id": "po_2", "state": "planned", "doc": '{"id": "po_2", "receipt": null}'})
            # typed in lower case before receipts were kept upper case (R13-12); a malformed answer's long text
            conn.execute(insert, {"id": "po_3", "state": "completed", "doc": '{"id": "po_3", "receipt": " sbx3 "}'})
            long = "X" * 250
            conn.execute(insert, {"id": "po_4", "state": "completed", "doc": f'{{"id": "po_4", "receipt": "{long}"}}'})
        upgrade(empty_url, "0295")
        with engine.connect() as conn:
            found = dict(conn.execute(text("SELECT id, receipt FROM payouts ORDER BY id")).all())
        assert found == {"po_1": "SBX1PAID", "po_2": None, "po_3": "SBX3", "po_4": None}  # lastread L3-1
        assert "ix_payouts_receipt" in {i["name"] for i in sa.inspect(engine).get_indexes("payouts")}
    finally:
        engine.dispose()
