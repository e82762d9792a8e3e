"""Merchant reports: sales, fees (and the taxes on them) and settlements per Nairobi day or month.

- ``periods``: report spans (``period=day|month``, ``from``/``to`` dates) split into Nairobi days or months;
- ``taxes``: the taxes on fees as versioned data (``data/fee_taxes.json``);
- ``service``: the ``Reports`` use case and the ``Report`` every shell renders (JSON rows, ``as_csv``).
"""

from cryptopay.core.reports.service import REPORT_KINDS, Report, Reports

__all__ = ["REPORT_KINDS", "Report", "Reports"]
