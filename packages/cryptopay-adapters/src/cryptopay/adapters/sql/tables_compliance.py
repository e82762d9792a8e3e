"""Compliance tables: KYC/KYB applications, monitored movements, alerts and cases (JSON documents plus the columns
they are queried by).

An application's personal details live only in its document; its documents' contents are vault blobs in the
document store, never in the database.
"""

from __future__ import annotations

import sqlalchemy as sa
from cryptopay.adapters.sql.tables import ID, metadata
from cryptopay.adapters.sql.types import JsonText, UtcDateTime

__all__ = [
    "compliance_alerts",
    "compliance_cases",
    "compliance_movements",
    "kyc_applications",
    "kyc_director_lookups",
    "sanctions_addresses",
    "sanctions_entries",
    "sanctions_snapshots",
]

kyc_applications = sa.Table(
    "kyc_applications",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("party_id", sa.String(ID), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    # The applicant's ID document (``id_key``), a KYB's registration number (``registration_key``), as a keyed hash
    # (``PersonalData.lookup``): one ID, which accounts; one business, which merchants
    sa.Column("id_lookup", sa.String(128), nullable=True),
    sa.Index("ix_kyc_applications_party", "party_id", "created_at"),
    sa.Index("ix_kyc_applications_state", "state", "id"),
    sa.Index("ix_kyc_applications_id_lookup", "id_lookup"),
    keep_existing=True,
)

kyc_director_lookups = sa.Table(
    "kyc_director_lookups",
    metadata,
    # A KYB's directors' ID documents (``id_key``) as keyed hashes, one row per director, rewritten with the
    # application: which businesses one person directs (information for the officers, never a refusal)
    sa.Column("application_id", sa.String(ID), sa.ForeignKey("kyc_applications.id"), primary_key=True),
    sa.Column("director_id", sa.String(16), primary_key=True),
    sa.Column("lookup", sa.String(128), nullable=False),
    sa.Index("ix_kyc_director_lookups_lookup", "lookup"),
    keep_existing=True,
)

compliance_movements = sa.Table(
    "compliance_movements",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("party_id", sa.String(ID), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    sa.Index("ix_compliance_movements_party", "party_id", "at"),
    sa.Index("ix_compliance_movements_at", "at", "id"),
    keep_existing=True,
)

compliance_alerts = sa.Table(
    "compliance_alerts",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("key", sa.String(300), nullable=False, unique=True),
    sa.Column("party_id", sa.String(ID), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    sa.Index("ix_compliance_alerts_status", "status", "id"),
    keep_existing=True,
)

compliance_cases = sa.Table(
    "compliance_cases",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("party_id", sa.String(ID), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    # the FRC's goAML report id of the case's STR filing (also in ``doc``): one report is the filing of one case
    sa.Column("str_reference", sa.String(64), nullable=True),
    sa.Index("ix_compliance_cases_status", "status", "id"),
    sa.Index("ux_compliance_cases_str_reference", "str_reference", unique=True),
    keep_existing=True,
)

sanctions_snapshots = sa.Table(
    "sanctions_snapshots",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("imported_at", UtcDateTime, nullable=False),
    sa.Column("doc", JsonText, nullable=False),
    sa.Index("ix_sanctions_snapshots_source", "source", "imported_at"),
    keep_existing=True,
)

sanctions_entries = sa.Table(
    "sanctions_entries",
    metadata,
    sa.Column("snapshot_id", sa.String(ID), primary_key=True),
    sa.Column("ref", sa.String(64), primary_key=True),
    sa.Column("doc", JsonText, nullable=False),
    keep_existing=True,
)

sanctions_addresses = sa.Table(
    "sanctions_addresses",
    metadata,
    sa.Column("family", sa.String(16), primary_key=True),
    sa.Column("address", sa.String(200), primary_key=True),
    sa.Column("snapshot_id", sa.String(ID), primary_key=True),
    sa.Column("ref", sa.String(64), primary_key=True),
    keep_existing=True,
)
