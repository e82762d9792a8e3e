"""`cryptopay refunds create|list|show` and `cryptopay invoices cancel`, with their exit codes."""

from __future__ import annotations

from cryptopay_cli.context import operator

from tests.integration.cli_payments.cli_payments_support import PAYER, cli, cli_json, create_merchant, paid_invoice

CUSTOMER = PAYER  # the address that paid (R10-9: a shell refund goes only there)


def test_cli_refunds_create_list_and_show(stack):
    """A KES refund is converted at a locked quote, listed newest first and shown; each is audited by operator."""
    merchant_id = create_merchant()
    invoice_id = paid_invoice(stack, merchant_id)
    first = cli_json(
        "refunds",
        "create",
        "--reason",
        "the customer asked",
        invoice_id,
        "--address",
        CUSTOMER,
        "--amount",
        "130",
        "--currency",
        "KES",
    )
    assert first["state"] == "requested" and first["quote_id"] and first["requested"]["asset"] == "KES"
    assert first["requested_by"].startswith("ops:")
    second = cli_json(
        "refunds",
        "create",
        "--reason",
        "the customer asked",
        invoice_id,
        "--address",
        CUSTOMER,
        "--amount",
        "1",
        "--currency",
        "USDT",
        "--actor",
        "ops:amina",
    )
    stack.clock.advance(seconds=1)
    listed = cli_json("refunds", "list", invoice_id)["refunds"]
    assert {r["id"] for r in listed} == {first["id"], second["id"]}
    shown = cli_json("refunds", "show", second["id"])
    assert shown["amount"] == {"amount": "1.000000", "asset": "USDT"} and shown["requested_by"] == operator()
    assert cli("refunds", "list", invoice_id).exit_code == 0


def test_cli_refunds_exit_codes(stack):
    """Unknown invoice or refund 3; a bad address or amount 2; beyond what was received or an open invoice 5."""
    merchant_id = create_merchant()
    invoice_id = paid_invoice(stack, merchant_id)
    assert cli("refunds", "show", "rfd_nope").exit_code == 3
    assert cli("refunds", "list", "inv_nope").exit_code == 3
    assert cli("refunds", "create", "--reason", "the customer asked", "inv_nope", "--address", CUSTOMER).exit_code == 3
    assert (
        cli(
            "refunds",
            "create",
            "--reason",
            "the customer asked",
            invoice_id,
            "--address",
            "0x12",
            "--amount",
            "1",
            "--currency",
            "USDT",
        ).exit_code
        == 2
    )
    assert (
        cli(
            "refunds",
            "create",
            "--reason",
            "the customer asked",
            invoice_id,
            "--address",
            CUSTOMER,
            "--amount",
            "ten",
            "--currency",
            "USDT",
        ).exit_code
        == 2
    )
    too_much = cli(
        "refunds",
        "create",
        "--reason",
        "the customer asked",
        invoice_id,
        "--address",
        CUSTOMER,
        "--amount",
        "1000",
        "--currency",
        "USDT",
    )
    assert too_much.exit_code == 5 and "at most" in too_much.stderr
    open_id = stack.invoicing.create_invoice(merchant_id, stack.kes("250")).id
    assert (
        cli(
            "refunds", "create", "--reason", "the customer asked", open_id, "--address", CUSTOMER, "--rail", "usdt-tron"
        ).exit_code
        == 5
    )


def test_cli_refunds_take_a_quote_locked_for_the_invoices_merchant_once(stack):
    """`fx quote --merchant` claims a quote for that merchant's refunds: it converts one (a second use exits 4),
    another merchant's or an unclaimed quote exits 3 and refunds nothing."""
    merchant_id, rival_id = create_merchant(), "mer_rival"
    invoice_id = paid_invoice(stack, merchant_id)
    mine = cli_json("fx", "quote", "USDT/KES", "--merchant", merchant_id)["id"]
    theirs = cli_json("fx", "quote", "USDT/KES", "--merchant", rival_id)["id"]
    bare = cli_json("fx", "quote", "USDT/KES")["id"]
    kes = (
        "refunds",
        "create",
        "--reason",
        "the customer asked",
        invoice_id,
        "--address",
        CUSTOMER,
        "--amount",
        "130",
        "--currency",
        "KES",
    )
    for other in (theirs, bare):
        refused = cli(*kes, "--quote", other)
        assert refused.exit_code == 3 and "no quote" in refused.stderr
    made = cli_json(*kes, "--quote", mine)
    assert made["quote_id"] == mine
    again = cli(*kes, "--quote", mine)
    assert again.exit_code == 4 and "used already" in again.stderr
    assert [r["id"] for r in cli_json("refunds", "list", invoice_id)["refunds"]] == [made["id"]]


def test_cli_invoices_cancel(stack):
    """A new invoice is cancelled; a paid one exits 4 (conflict) and stays as it was."""
    merchant_id = create_merchant()
    open_id = stack.invoicing.create_invoice(merchant_id, stack.kes("250")).id
    assert cli_json("invoices", "cancel", open_id)["state"] == "cancelled"
    paid_id = paid_invoice(stack, merchant_id)
    refused = cli("invoices", "cancel", paid_id)
    assert refused.exit_code == 4 and "cannot be cancelled" in refused.stderr
    assert cli_json("invoices", "show", paid_id)["state"] == "settled"
    assert any(r.action == "invoice.cancel" for r in stack.storage.audit_records())


def test_cli_refunds_of_a_closed_merchants_invoice_need_a_reason(stack):
    """``merchants close`` cancels the unpaid invoices (the paid one stays); a refund of the closed merchant's paid
    invoice exits 5 (``merchant_closed``) without ``--closed-merchant``, is made with it (the reason audited), and
    the flag on an open merchant's invoice exits 2: an operator's refund for a closed merchant is never accidental."""
    merchant_id, other_id = create_merchant(), "mer_other"
    stack.add_merchant(other_id, settlement=stack.merchants.get(merchant_id).settlement)
    invoice_id, others = paid_invoice(stack, merchant_id), paid_invoice(stack, other_id)
    unpaid = stack.invoicing.create_invoice(merchant_id, stack.kes("250")).id
    closed = cli_json("merchants", "close", merchant_id, "--reason", "wound up")
    assert closed["invoices_cancelled"] == 1 and closed["invoices_kept"] == [] and closed["keys_revoked"] == 0
    assert stack.invoice(unpaid).cancelled_at is not None and stack.invoice(invoice_id).cancelled_at is None

    bare = (
        "refunds",
        "create",
        "--reason",
        "the customer asked",
        invoice_id,
        "--address",
        CUSTOMER,
        "--amount",
        "1",
        "--currency",
        "USDT",
    )
    refused = cli(*bare)
    assert refused.exit_code == 5 and "closed" in refused.stderr
    assert (
        cli(
            "refunds",
            "create",
            "--reason",
            "the customer asked",
            others,
            "--address",
            CUSTOMER,
            "--closed-merchant",
            "x",
        ).exit_code
        == 2
    )
    assert cli(*bare, "--closed-merchant", " ").exit_code == 2
    made = cli_json(*bare, "--closed-merchant", "returning the customers' money")
    assert [r["id"] for r in cli_json("refunds", "list", invoice_id)["refunds"]] == [made["id"]]
    with stack.uow() as uow:
        [asked] = [r for r in uow.audit.records() if r.action == "refund.request"]
    assert dict(asked.details)["merchant_closed"] == "returning the customers' money"


def test_a_shell_refund_goes_only_to_the_address_that_paid_and_says_why(stack):
    """reviewer10 R10-9: one operator sent a merchant's crypto to any address, no reason. From the shell a refund now
    goes only to an address that paid the invoice (another: exit 5, audited ``refund.shell_refused``, nothing held:
    that is the merchant's decision, on its dashboard or API), and ``--reason`` is required and audited."""
    merchant_id = create_merchant()
    invoice_id = paid_invoice(stack, merchant_id)
    elsewhere = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"
    ask = ("refunds", "create", invoice_id, "--amount", "1", "--currency", "USDT", "--address")
    refused = cli(*ask, elsewhere, "--reason", "merchant phoned", "--fund-after-settlement")
    assert refused.exit_code == 5 and "POST /v1/invoices/" in refused.stderr and PAYER in refused.stderr
    assert cli(*ask, PAYER).exit_code == 2  # no --reason
    assert cli(*ask, PAYER, "--reason", "  ").exit_code == 2
    assert stack.refunds.list_refunds(invoice_id) == []
    (record,) = [r for r in stack.audit_trail.records() if r.action == "refund.shell_refused"]
    assert (record.actor, record.subject) == (operator(), f"invoice:{invoice_id}")
    assert dict(record.details) == {
        "address": elsewhere,
        "network": "tron",
        "reason": "merchant phoned",
        "paid_from": PAYER,
    }
    done = cli_json(*ask, PAYER, "--reason", "customer returned the goods")
    (asked,) = _shell_requested(stack)
    assert asked.actor == operator() and dict(asked.details)["reason"] == "customer returned the goods"
    assert dict(asked.details)["refund"] == done["id"] and done["address"] == PAYER


def _shell_requested(stack) -> list:
    with stack.uow() as uow:
        return [r for r in uow.audit.records() if r.action == "refund.shell_requested"]


def test_a_shell_refunds_reason_is_kept_in_the_refunds_own_transaction(stack):
    """mendD: ``refund.shell_requested`` was appended in a transaction of its own after the refund committed, so a
    refund could be kept without its operator's reason. It is now written in the refund's unit of work, next to its
    ``refund.request``; a refund refused there (more than the invoice received) leaves neither."""
    invoice_id = paid_invoice(stack, create_merchant())
    ask = ("refunds", "create", invoice_id, "--currency", "USDT", "--address", PAYER, "--reason", "returned")
    assert cli(*ask, "--amount", "1000000").exit_code == 5
    assert stack.refunds.list_refunds(invoice_id) == [] and _shell_requested(stack) == []
    done = cli_json(*ask, "--amount", "1")
    with stack.uow() as uow:
        records = [r for r in uow.audit.records() if done["id"] in (r.subject[len("refund:") :], r.details[-1][1])]
    assert [r.action for r in records] == ["refund.request", "refund.shell_requested"]
    assert not [r for r in stack.audit_trail.records() if r.action == "refund.shell_requested"]
