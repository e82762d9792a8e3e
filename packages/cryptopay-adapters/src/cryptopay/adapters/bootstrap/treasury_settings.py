"""The treasury's settings: float reserve and alert level, inventory reserves, sweep threshold, alerts, sweep keys.

>>> t = TreasurySettings.from_env({"CRYPTOPAY_FLOAT_RESERVE": "50000", "CRYPTOPAY_INVENTORY_RESERVE": "USDT=100"})
>>> str(t.float_reserve), t.inventory_reserve, t.sweep_threshold
('50000.00 KES', {'USDT': Decimal('100')}, Decimal('50'))
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

import attrs
from cryptopay.core.errors import InvalidInput, UnknownAsset
from cryptopay.core.money import KES, Money, asset_by_code, to_decimal
from cryptopay.core.treasury import DEFAULT_THRESHOLD

__all__ = ["TreasurySettings"]


def _hidden(_: object) -> str:
    return "<redacted>"


@attrs.frozen(kw_only=True)
class TreasurySettings:
    """``CRYPTOPAY_FLOAT_*``, ``CRYPTOPAY_INVENTORY_RESERVE``, ``CRYPTOPAY_SWEEP_*``, ``CRYPTOPAY_TREASURY_*``."""

    float_reserve: Money = attrs.Factory(lambda: Money.zero(KES))  # kept back from payouts
    float_low_alert: Money | None = None  # below this the float is reported low (log, gauge, alert rule)
    inventory_reserve: Mapping[str, Decimal] = attrs.Factory(dict)  # per asset, kept back in each hot wallet
    sweep_threshold: Decimal = DEFAULT_THRESHOLD  # token units at a deposit address before it is swept
    alert_email: str | None = None  # where held-payout alerts go (the notifier); None: the log and gauges only
    evm_sweep_mnemonic: str | None = attrs.field(default=None, repr=_hidden)  # the deposit xpub's seed phrase
    tron_sweep_mnemonic: str | None = attrs.field(default=None, repr=_hidden)  # CRYPTOPAY_TRON_XPUB's seed phrase

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TreasurySettings:
        def text(name: str) -> str:
            return env.get(f"CRYPTOPAY_{name}", "").strip()

        threshold = _amount("SWEEP_THRESHOLD", text("SWEEP_THRESHOLD")) if text("SWEEP_THRESHOLD") else None
        alert = text("TREASURY_ALERT_EMAIL") or None
        if alert is not None and "@" not in alert:
            raise InvalidInput(f"CRYPTOPAY_TREASURY_ALERT_EMAIL must be an email address, got {alert!r}")
        return cls(
            float_reserve=_kes("FLOAT_RESERVE", text("FLOAT_RESERVE")) or Money.zero(KES),
            float_low_alert=_kes("FLOAT_LOW_ALERT", text("FLOAT_LOW_ALERT")),
            inventory_reserve=_reserves(text("INVENTORY_RESERVE")),
            sweep_threshold=threshold if threshold is not None else DEFAULT_THRESHOLD,
            alert_email=alert,
            evm_sweep_mnemonic=text("EVM_SWEEP_MNEMONIC") or None,
            tron_sweep_mnemonic=text("TRON_SWEEP_MNEMONIC") or None,
        )


def _amount(name: str, text: str) -> Decimal:
    try:
        value = to_decimal(text)
    except (InvalidInput, InvalidOperation, ArithmeticError, ValueError):
        raise InvalidInput(f"CRYPTOPAY_{name} must be a non-negative amount, got {text!r}") from None
    if value < 0:
        raise InvalidInput(f"CRYPTOPAY_{name} must be a non-negative amount, got {text!r}")
    return value


def _kes(name: str, text: str) -> Money | None:
    return Money.of(_amount(name, text), KES) if text else None


def _reserves(text: str) -> dict[str, Decimal]:
    """``USDT=100,BTC=0.01``: per asset, what each hot wallet keeps back."""
    found: dict[str, Decimal] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        code, _, amount = part.partition("=")
        try:
            asset = asset_by_code(code.strip().upper())
        except UnknownAsset:
            raise InvalidInput(f"CRYPTOPAY_INVENTORY_RESERVE: unknown asset {code!r}") from None
        found[asset.code] = _amount("INVENTORY_RESERVE", amount.strip())
    return found
