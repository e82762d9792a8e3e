"""The route shape the held-money desks share: merchant payments held for a listed payer (``held-payments``), wallet
sends held for a frozen recipient (``held-transfers``), deposits held for compliance (``held-deposits``) and
remittance orders held for compliance (``held-remittances``), each under ``/v1/admin/compliance``.

A desk's routes are for compliance officers only, documented under ``admin``/``compliance``; a proposal or an approval
(money moves, or is proposed to) needs the audited step-up first; each decision is one call of the desk's use case in
the officer's name, answered with the item as officers read it. What may be decided, the four-eyes rule (409
``same_officer``, ``related_officers``, ``officer_cooling_off``: ``FOUR_EYES``), the audit records and the problems
are the use cases'; ``OfficerDesk`` only lays the routes out, so the desks cannot drift apart in who may call them or
how.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import attrs
from cryptopay.core.compliance.four_eyes import OfficerCoolingOff, RelatedOfficers, SameOfficer
from cryptopay.core.identity import Role
from cryptopay.core.text import TextKind
from flask import Blueprint, Response

from cryptopay_http.auth import audit_security, audited_step_up, current_principal, require
from cryptopay_http.convert import json_response, limits, read_body
from cryptopay_http.openapi import PageOf, ProblemNote, operation
from cryptopay_http.pagination import paginate, paginated

__all__ = ["FOUR_EYES", "OFFICERS", "RELATED", "TAGS", "HoldDecisionRequest", "Noted", "OfficerDesk"]

TAGS = ("admin", "compliance")
# An approval's four-eyes problems (``compliance.four_eyes``), the same on every desk that approves a proposal
RELATED: tuple[ProblemNote, ...] = (
    (RelatedOfficers, "the approver and the proposer were made staff by the same person, or one made the other"),
    (OfficerCoolingOff, "the approver was made staff less than CRYPTOPAY_OFFICER_COOL_OFF_HOURS ago"),
)
FOUR_EYES: tuple[ProblemNote, ...] = ((SameOfficer, "you proposed it: a second officer approves it"), *RELATED)
OFFICERS = (Role.COMPLIANCE,)
View = Callable[..., Response]


class _Held(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_Held)
T_co = TypeVar("T_co", covariant=True)


@attrs.frozen
class HoldDecisionRequest:
    note: str = attrs.field(
        metadata=limits(
            "why (kept in the audit log and the alerts' case)", min_length=1, max_length=4000, text=TextKind.PROSE
        )
    )


class Noted(Protocol[T_co]):
    """A desk's decision on one item that takes the officer's note (``HeldSends.decline``...)."""

    def __call__(self, item_id: str, /, *, officer: str, note: str) -> T_co: ...


@attrs.frozen
class OfficerDesk(Generic[T]):
    """The routes of one desk under ``path`` (``/v1/admin/compliance/held-transfers``): its items are ``noun``
    (``transfer``: audited reads ``compliance.held_transfers_viewed``, ``compliance.held_transfer_viewed`` about
    ``transfer:<id>``), named ``param`` in the path (``transfer_id``), shown as ``response`` (``show`` builds one)."""

    bp: Blueprint
    path: str
    noun: str
    param: str
    response: type
    show: Callable[[T], object]

    def answer(self, item: T) -> Response:
        return json_response(self.show(item))

    def post(
        self,
        action: str,
        summary: str,
        *,
        step_up: bool,
        description: str,
        problems: tuple[ProblemNote, ...],
        request: type | None = HoldDecisionRequest,
    ) -> Callable[[View], View]:
        """``POST path/<param>/action`` for officers, documented; the audited step-up first when ``step_up``."""

        def decorate(view: View) -> View:
            guarded = require(roles=OFFICERS)(audited_step_up(view) if step_up else view)
            documented = operation(
                summary,
                request=request,
                response=self.response,
                tags=TAGS,
                description=description,
                problems=problems,
            )(guarded)
            return self.bp.post(f"{self.path}/<{self.param}>/{action}")(documented)

        return decorate

    def noted(
        self,
        action: str,
        endpoint: str,
        decide: Callable[[], Noted[T]],
        summary: str,
        *,
        step_up: bool,
        description: str,
        problems: tuple[ProblemNote, ...],
    ) -> None:
        """``post`` a decision whose body is the officer's note alone: ``decide()(item_id, officer=, note=)``."""

        def view(**path: str) -> Response:
            note = read_body(HoldDecisionRequest).note
            return self.answer(decide()(path[self.param], officer=current_principal().id, note=note))

        view.__name__ = view.__qualname__ = endpoint  # the endpoint, and so the OpenAPI operationId
        self.post(action, summary, step_up=step_up, description=description, problems=problems)(view)

    def waiting(
        self,
        endpoint: str,
        summary: str,
        *,
        prefix: str,
        description: str,
        fetch: Callable[[str | None, int], list[T]],
    ) -> None:
        """``GET path``: the items waiting, a page at a time (``prefix`` ids), each page's read audited."""

        def view() -> Response:
            def page(cursor: str | None, limit: int) -> list[T]:
                found = fetch(cursor, limit)
                what = f"held_{self.noun}s"
                audit_security(f"compliance.{what}_viewed", f"compliance:{what}", count=str(len(found)))
                return found

            return json_response(paginate(page, self.show))

        view.__name__ = view.__qualname__ = endpoint
        documented = operation(summary, response=PageOf(self.response), tags=TAGS, description=description)
        self.bp.get(self.path)(documented(require(roles=OFFICERS)(paginated(prefix)(view))))

    def one(
        self,
        endpoint: str,
        summary: str,
        *,
        description: str,
        problems: tuple[ProblemNote, ...],
        get: Callable[[str], T],
    ) -> None:
        """``GET path/<param>``: one item, its read audited."""

        def view(**path: str) -> Response:
            found = get(path[self.param])
            audit_security(f"compliance.held_{self.noun}_viewed", f"{self.noun}:{found.id}")
            return self.answer(found)

        view.__name__ = view.__qualname__ = endpoint
        documented = operation(summary, response=self.response, tags=TAGS, description=description, problems=problems)
        self.bp.get(f"{self.path}/<{self.param}>")(documented(require(roles=OFFICERS)(view)))
