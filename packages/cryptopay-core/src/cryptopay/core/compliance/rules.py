"""AML monitoring rules as data: versioned documents, validated on load, evaluated by pure functions.

A rule set is a JSON (or TOML) document with a version and a list of rules; each rule has an id, a kind, a scope
(the products and directions it watches) and its parameters. ``evaluate`` looks at one movement with the party's
earlier movements and returns a ``Hit`` (with evidence) or None. A rule never fires on a movement outside its
scope. ``blocking`` rules are evaluated synchronously before money moves; the rest in batch by the worker.

>>> rules = load_rules('{"version": 2, "rules": [{"id": "large", "kind": "large_transaction", '
...                    '"threshold_kes": "1000000"}]}')
>>> rules.version, rules.rules[0].kind
(2, 'large_transaction')

Kinds: ``large_transaction`` (``threshold_kes``), ``velocity`` (``window_minutes``, ``max_count`` and/or
``max_value_kes``), ``structuring`` (``threshold_kes``, ``margin_percent``, ``min_count``, ``window_minutes``: several
amounts just under a threshold), ``rapid_in_out`` (``window_minutes``, ``min_percent``: value leaving within minutes
of arriving), ``new_account_high_value`` (``account_age_days``, ``threshold_kes``), ``sanctioned_counterparty``
(the counterparty is on a sanctions list: see ``cryptopay.core.compliance.screening``), ``round_trip``
(``window_minutes``, ``min_percent``: value returning from the counterparty it just went to, or the reverse),
``high_risk_jurisdiction`` (``countries``: ISO codes of a remittance sender's country), ``sanctioned_name``
(``review_score``, optional: the parties a product names -- a remittance's sender and recipient -- are screened
against the sanctions lists by ``Monitoring.screen_names`` before the money moves, not by ``evaluate``: a match at
the screening's threshold, ``CRYPTOPAY_SANCTIONS_THRESHOLD``, is refused when the rule is blocking; one from
``review_score`` up to it is a possible match, raised as a non-blocking alert for an officer), ``payee_name_mismatch``
(no parameters: the product that paid compares the name the payee's account is registered to with the name it was
told, by the screening's matcher, and raises the rule's alert on a mismatch through
``Monitoring.payee_name_mismatch``; never evaluated on a movement).

The default set (``data/rules.json``, version 8) screens, since version 3, a remittance sender's country against FATF's
"call for action" list: ``call-for-action-remittance`` (KP, IR: countermeasures) is blocking, so the order is refused
before the sender pays; ``high-risk-remittance`` (KP, IR, MM) flags paid orders in batch. A deployment edits the
countries in its own rule set (``CRYPTOPAY_MONITORING_RULES``) as the list changes. Version 4 adds
``sanctioned-remittance-party`` (``sanctioned_name``, blocking, possible matches from a score of 80): a remittance's
sender and recipient names are screened when the order opens. Version 5 adds ``sanctioned-address``
(``sanctioned_counterparty``, blocking, products ``refund`` out and ``remittance_payment`` in): a refund's destination
and a remittance order's paying address are screened (``compliance.addresses``). Version 6 adds structuring rules
where splitting pays for a personal customer (``structuring-day`` at KES 1,000,000 can only fire for merchants):
``structuring-travel-rule`` (two or more remittances to one recipient within 24 hours each within 20% under KES
129,000, the Travel Rule's USD 1,000: orders split to avoid giving originator data; a deployment whose
``CRYPTOPAY_TRAVEL_RULE_THRESHOLD_USD`` or rate differs edits ``threshold_kes``), and ``structuring-tier1-single`` /
``structuring-tier2-single`` (three or more wallet movements within a day each within 20% under a tier's
single-transaction limit, KES 70,000 and KES 250,000: ``kyc.limits``). The remittance service also aggregates an
order's originator (``remittances.service``: same refund address or sender name within 24 hours) before the sender
pays. Version 7 adds product ``merchant_payer`` (in) to ``sanctioned-address``: the address that paid a merchant's
invoice is screened when the payment confirms, and a listed one's payment is held (``payments.crediting``).
Version 8 adds ``payee-name-mismatch`` (``payee_name_mismatch``, products ``remittance`` in): the name M-Pesa's B2C
result gives for the number a remittance was paid to (``ReceiverPartyPublicName``) is not the order's recipient name.
"""

from __future__ import annotations

import enum
import json
import tomllib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import KES, Money

__all__ = [
    "KINDS",
    "Direction",
    "Hit",
    "Movement",
    "Rule",
    "RuleSet",
    "default_rules",
    "evaluate",
    "load_rules",
]


class Direction(enum.Enum):
    IN = "in"
    OUT = "out"


@attrs.frozen(kw_only=True)
class Movement:
    """One movement of value for monitoring: who, which product, which way, its KES value, when, with whom."""

    id: str
    party_id: str
    product: str  # merchant_payment, settlement_payout, wallet_buy, wallet_sell, p2p, withdraw, bill, remittance
    direction: Direction
    amount: Money  # KES value
    at: datetime
    counterparty: str | None = None  # an address, a phone, another party
    network: str | None = None
    party_since: datetime | None = None  # when the party's account was opened
    asset: str | None = None  # the virtual asset moved (USDT, BTC, ...); None for shillings only
    country: str | None = None  # ISO 3166 alpha-2 of the counterparty (a remittance's sender), when known


@attrs.frozen(kw_only=True)
class Rule:
    """One rule of a rule set; ``params`` are the kind's parameters, already checked."""

    id: str
    kind: str
    version: int
    products: frozenset[str] = frozenset()  # empty: every product
    directions: frozenset[Direction] = frozenset({Direction.IN, Direction.OUT})
    blocking: bool = False
    params: Mapping[str, Any] = attrs.field(factory=dict, hash=False)

    def watches(self, movement: Movement) -> bool:
        """Whether ``movement`` is within this rule's scope."""
        in_products = not self.products or movement.product in self.products
        return in_products and movement.direction in self.directions

    def kes(self, name: str) -> Money:
        return Money.of(self.params[name], KES)

    def window(self) -> timedelta:
        return timedelta(minutes=int(self.params["window_minutes"]))


@attrs.frozen
class RuleSet:
    version: int
    rules: tuple[Rule, ...]

    def blocking(self) -> list[Rule]:
        return [r for r in self.rules if r.blocking]

    def batch(self) -> list[Rule]:
        return [r for r in self.rules if not r.blocking]


@attrs.frozen
class Hit:
    """A rule fired: which rule, which version, on which movement, and the evidence an officer reads."""

    rule_id: str
    rule_version: int
    kind: str
    movement_id: str
    party_id: str
    evidence: Mapping[str, str] = attrs.field(factory=dict, hash=False)


# -- loading ---------------------------------------------------------------------------------------------------
_POSITIVE_KES = "positive_kes"
_POSITIVE_INT = "positive_int"
_PERCENT = "percent"
_COUNTRIES = "countries"
KINDS: Mapping[str, Mapping[str, tuple[str, bool]]] = {  # kind -> parameter -> (type, required)
    "large_transaction": {"threshold_kes": (_POSITIVE_KES, True)},
    "velocity": {
        "window_minutes": (_POSITIVE_INT, True),
        "max_count": (_POSITIVE_INT, False),
        "max_value_kes": (_POSITIVE_KES, False),
    },
    "structuring": {
        "threshold_kes": (_POSITIVE_KES, True),
        "margin_percent": (_PERCENT, True),
        "min_count": (_POSITIVE_INT, True),
        "window_minutes": (_POSITIVE_INT, True),
    },
    "rapid_in_out": {"window_minutes": (_POSITIVE_INT, True), "min_percent": (_PERCENT, True)},
    "new_account_high_value": {"account_age_days": (_POSITIVE_INT, True), "threshold_kes": (_POSITIVE_KES, True)},
    "sanctioned_counterparty": {},
    "round_trip": {"window_minutes": (_POSITIVE_INT, True), "min_percent": (_PERCENT, True)},
    "high_risk_jurisdiction": {"countries": (_COUNTRIES, True)},
    "sanctioned_name": {"review_score": (_PERCENT, False)},
    "payee_name_mismatch": {},
}
_COMMON = {"id", "kind", "products", "directions", "blocking"}


def load_rules(text: str, *, fmt: str = "json") -> RuleSet:
    """Parse and validate a rule-set document; ``InvalidInput`` names the rule and field at fault."""
    try:
        data = tomllib.loads(text) if fmt == "toml" else json.loads(text, parse_float=Decimal)
    except (ValueError, tomllib.TOMLDecodeError) as error:
        raise InvalidInput(f"the rule set is not valid {fmt.upper()}: {error}") from None
    if not isinstance(data, dict) or set(data) - {"version", "rules"}:
        raise InvalidInput("a rule set is an object with 'version' and 'rules' only")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidInput("a rule set's 'version' is a whole number from 1")
    raw = data.get("rules")
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("a rule set has a non-empty list of 'rules'")
    rules = tuple(_rule(item, version, index) for index, item in enumerate(raw))
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise InvalidInput("rule ids must be unique within a rule set")
    return RuleSet(version, rules)


def default_rules() -> RuleSet:
    """The rule set shipped with the core (``data/rules.json``): a starting point a deployment replaces."""
    text = resources.files("cryptopay.core.compliance").joinpath("data/rules.json").read_text(encoding="utf-8")
    return load_rules(text)


def _rule(item: object, version: int, index: int) -> Rule:
    where = f"rule {index + 1}"
    if not isinstance(item, dict):
        raise InvalidInput(f"{where} is not an object")
    rule_id, kind = item.get("id"), item.get("kind")
    if not isinstance(rule_id, str) or not rule_id.strip():
        raise InvalidInput(f"{where} needs an 'id'")
    where = f"rule {rule_id!r}"
    if kind not in KINDS:
        raise InvalidInput(f"{where}: unknown kind {kind!r} (known: {', '.join(sorted(KINDS))})")
    spec = KINDS[str(kind)]
    unknown = set(item) - _COMMON - set(spec)
    if unknown:
        raise InvalidInput(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    params = {name: _param(where, name, item.get(name), *spec[name]) for name in spec if name in item}
    missing = [name for name, (_, required) in spec.items() if required and name not in item]
    if missing:
        raise InvalidInput(f"{where}: missing {', '.join(missing)}")
    if kind == "velocity" and not ({"max_count", "max_value_kes"} & set(params)):
        raise InvalidInput(f"{where}: a velocity rule needs max_count or max_value_kes")
    return Rule(
        id=rule_id,
        kind=str(kind),
        version=version,
        products=frozenset(_strings(where, "products", item.get("products", []))),
        directions=frozenset(
            Direction(d) for d in _strings(where, "directions", item.get("directions", ["in", "out"]))
        ),
        blocking=_flag(where, item.get("blocking", False)),
        params=params,
    )


def _strings(where: str, name: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{where}: {name} is a list of strings")
    if name == "directions" and (not value or set(value) - {"in", "out"}):
        raise InvalidInput(f"{where}: directions are 'in' and/or 'out'")
    return list(value)


def _flag(where: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{where}: blocking is true or false")
    return value


def _param(where: str, name: str, value: object, kind: str, _required: bool) -> object:
    if kind == _COUNTRIES:
        codes = value if isinstance(value, list) else None
        if not codes or not all(isinstance(c, str) and len(c) == 2 and c.isalpha() and c.isupper() for c in codes):
            raise InvalidInput(f"{where}: {name} is a non-empty list of ISO country codes such as 'KP'")
        return tuple(codes)
    if kind == _POSITIVE_INT:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidInput(f"{where}: {name} is a whole number from 1")
        return value
    try:
        number = Decimal(str(value)) if isinstance(value, str | int | Decimal) and not isinstance(value, bool) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number <= 0 or (kind == _PERCENT and number > 100):
        bound = "a percentage above 0 and at most 100" if kind == _PERCENT else "a positive amount of shillings"
        raise InvalidInput(f"{where}: {name} is {bound}")
    return str(number)


# -- evaluating ------------------------------------------------------------------------------------------------
def evaluate(rule: Rule, movement: Movement, history: Sequence[Movement], *, sanctioned: bool = False) -> Hit | None:
    """Whether ``rule`` fires on ``movement`` given the party's earlier ``history`` (any order, any age: each rule
    keeps its own window). ``sanctioned``: the screening's answer for the counterparty."""
    if not rule.watches(movement):
        return None
    earlier = [m for m in history if m.party_id == movement.party_id and m.at <= movement.at and m.id != movement.id]
    evidence = _EVALUATORS[rule.kind](rule, movement, earlier, sanctioned)
    if evidence is None:
        return None
    facts = {"amount": str(movement.amount.amount), "product": movement.product, **evidence}
    return Hit(rule.id, rule.version, rule.kind, movement.id, movement.party_id, facts)


Evidence = dict[str, str] | None


def _large(rule: Rule, movement: Movement, _history: list[Movement], _s: bool) -> Evidence:
    threshold = rule.kes("threshold_kes")
    return {"threshold": str(threshold.amount)} if movement.amount >= threshold else None


def _in_window(rule: Rule, movement: Movement, history: list[Movement]) -> list[Movement]:
    start = movement.at - rule.window()
    return [m for m in history if start <= m.at and rule.watches(m)]


def _velocity(rule: Rule, movement: Movement, history: list[Movement], _s: bool) -> Evidence:
    """More movements, or more value, in the window than the rule allows: fired by the movement that goes past a
    limit, once, not again by each later one of the same busy hour (review12 R12-12)."""
    window = [*_in_window(rule, movement, history), movement]
    total = sum((m.amount for m in window), Money.zero(KES))
    prior = [m for m in window if _before(m, movement)]  # same-instant movements in a fixed order
    before = sum((m.amount for m in prior), Money.zero(KES))
    count_limit, value_limit = rule.params.get("max_count"), rule.params.get("max_value_kes")
    over_count = count_limit is not None and len(prior) == int(count_limit)
    over_value = value_limit is not None and before <= Money.of(value_limit, KES) < before + movement.amount
    if not (over_count or over_value):
        return None
    return {"count": str(len(window)), "total": str(total.amount), "window_minutes": str(rule.params["window_minutes"])}


def _structuring(rule: Rule, movement: Movement, history: list[Movement], _s: bool) -> Evidence:
    threshold = rule.kes("threshold_kes")
    floor = threshold.amount * (1 - Decimal(rule.params["margin_percent"]) / 100)

    def just_under(m: Movement) -> bool:
        return floor <= m.amount.amount < threshold.amount

    if not just_under(movement):
        return None
    under = [m for m in _in_window(rule, movement, history) if just_under(m)] + [movement]
    if len(under) < int(rule.params["min_count"]):
        return None
    total = sum((m.amount for m in under), Money.zero(KES))
    return {
        "count": str(len(under)),
        "total": str(total.amount),
        "threshold": str(threshold.amount),
        "movements": ",".join(m.id for m in under),
    }


def _before(m: Movement, movement: Movement) -> bool:
    """``m`` came before ``movement``: earlier, or at the same instant with a smaller id (an order every evaluation
    agrees on, so a series crosses a limit on exactly one of its movements)."""
    return (m.at, m.id) < (movement.at, movement.id)


def _crossed(before: Money, movement: Movement, base: Money, min_percent: Decimal) -> bool:
    """Whether ``movement`` takes a running total from below ``min_percent`` of ``base`` to at least it: a series of
    parts fires once, on the part that crosses (review12 R12-5: splitting must not hide the whole)."""
    after = before.amount + movement.amount.amount
    return base.is_positive() and after * 100 >= base.amount * min_percent > before.amount * 100


def _rapid_in_out(rule: Rule, movement: Movement, history: list[Movement], _s: bool) -> Evidence:
    """Value leaving within the window of arriving: what left since the first arrival in the window, this movement
    included, reaches ``min_percent`` of what arrived (one movement or several parts)."""
    if movement.direction is not Direction.OUT:
        return None
    start = movement.at - rule.window()
    arrived = [m for m in history if m.direction is Direction.IN and start <= m.at and rule.watches(m)]
    if not arrived:
        return None
    received = sum((m.amount for m in arrived), Money.zero(KES))
    first_in = min(m.at for m in arrived)
    left = [
        m
        for m in history
        if m.direction is Direction.OUT and first_in <= m.at and rule.watches(m) and _before(m, movement)
    ]
    before = sum((m.amount for m in left), Money.zero(KES))
    if not _crossed(before, movement, received, Decimal(rule.params["min_percent"])):
        return None
    evidence = {"arrived": str(received.amount), "window_minutes": str(rule.params["window_minutes"])}
    # the movements that arrived, the half of the pattern an STR must show too (review14 R14-5)
    evidence["arrivals"] = ",".join(m.id for m in arrived)
    if left:
        evidence["left"] = str((before + movement.amount).amount)
        evidence["movements"] = ",".join(m.id for m in [*left, movement])
    return evidence


def _new_account(rule: Rule, movement: Movement, _history: list[Movement], _s: bool) -> Evidence:
    if movement.party_since is None or movement.amount < rule.kes("threshold_kes"):
        return None
    age = movement.at - movement.party_since
    if age > timedelta(days=int(rule.params["account_age_days"])):
        return None
    return {"account_age_days": str(age.days), "threshold": rule.params["threshold_kes"]}


def _sanctioned(_rule: Rule, movement: Movement, _history: list[Movement], sanctioned: bool) -> Evidence:
    return {"counterparty": movement.counterparty or ""} if sanctioned and movement.counterparty else None


def _round_trip(rule: Rule, movement: Movement, history: list[Movement], _s: bool) -> Evidence:
    """Value comes back from (or goes back to) the counterparty it just went to (came from): what came back since the
    first movement out, this one included, reaches ``min_percent`` of what went (one movement or several parts)."""
    if not movement.counterparty:
        return None
    opposite = Direction.IN if movement.direction is Direction.OUT else Direction.OUT
    start = movement.at - rule.window()

    def with_counterparty(m: Movement) -> bool:
        return m.counterparty == movement.counterparty and start <= m.at and rule.watches(m)

    earlier = [m for m in history if m.direction is opposite and with_counterparty(m)]
    if not earlier:
        return None
    first = sum((m.amount for m in earlier), Money.zero(KES))
    went_at = min(m.at for m in earlier)
    back = [
        m
        for m in history
        if m.direction is movement.direction and with_counterparty(m) and went_at <= m.at and _before(m, movement)
    ]
    before = sum((m.amount for m in back), Money.zero(KES))
    if not _crossed(before, movement, first, Decimal(rule.params["min_percent"])):
        return None
    evidence = {
        "counterparty": movement.counterparty,
        "earlier": str(first.amount),
        "movements": ",".join(m.id for m in earlier),
    }
    if back:
        evidence["returned"] = str((before + movement.amount).amount)
        evidence["returning"] = ",".join(m.id for m in [*back, movement])
    return evidence


def _high_risk(rule: Rule, movement: Movement, _history: list[Movement], _s: bool) -> Evidence:
    countries: tuple[str, ...] = rule.params["countries"]
    return {"country": movement.country} if movement.country in countries else None


def _named(_rule: Rule, _movement: Movement, _history: list[Movement], _s: bool) -> Evidence:
    """Names are screened before the movement by ``Monitoring.screen_names``, and a payee's registered name is
    compared by the product that paid it (``Monitoring.payee_name_mismatch``): they are not on the movement."""
    return None


_EVALUATORS: Mapping[str, Callable[[Rule, Movement, list[Movement], bool], Evidence]] = {
    "large_transaction": _large,
    "velocity": _velocity,
    "structuring": _structuring,
    "rapid_in_out": _rapid_in_out,
    "new_account_high_value": _new_account,
    "sanctioned_counterparty": _sanctioned,
    "round_trip": _round_trip,
    "high_risk_jurisdiction": _high_risk,
    "sanctioned_name": _named,
    "payee_name_mismatch": _named,
}
