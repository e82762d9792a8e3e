"""PostgreSQL: the ledger's safety-net triggers do less per write (#14).

- ``ledger_check_line_references`` (0005) ran two queries over the statement's new lines, one for their entries
  and one for their accounts, each a full SPI execution (executor start, a scan of the transition table, executor
  end), on every ledger write (the P2P send's flush included). Now one query looks for a line missing either, with
  the same index probes per line; only when it finds one do the two queries of 0005 run, as before, so a refusal is
  exactly what it was (the entry's before the account's, the same message, SQLSTATE 23503 and constraint name).
- ``ledger_check_entry_balanced`` (0001, at commit, once per entry) summed each asset's lines in a grouped
  aggregate under another aggregate (two aggregate nodes and a sort to start for every entry). Now one plain
  aggregate gives the count, the numbers' range, the lowest and highest asset and the sum: an entry in one asset
  (nearly all) is balanced when that sum is zero; an entry in several assets, or with no line, is checked by
  0001's queries as before. The refusals' words, SQLSTATE 23514 and constraint ``ledger_entry_balanced`` are
  unchanged (the first asset in order that is off, and by how much).

Measured on the P2P send (the server backend's instructions under callgrind, same data and sends, 220 sends less
20): the reference check 12.7 thousand fewer per send (0.4%), the balance check about 30 thousand fewer (1%).

Revision ID: 0091
Revises: 0090
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0091"
down_revision = "0090"
branch_labels = None
depends_on = None

# The function as 0005 made it, and as this revision makes it (the same refusals after one query).
_TWO_QUERIES = """
CREATE OR REPLACE FUNCTION ledger_check_line_references() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad record;
BEGIN
  SELECT n.entry_id, n.line_no INTO bad FROM new_lines AS n
   WHERE NOT EXISTS (SELECT 1 FROM ledger_entries AS e WHERE e.id = n.entry_id OFFSET 0) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger line % names entry %, which does not exist', bad.line_no, bad.entry_id
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'fk_lines_entry';
  END IF;
  SELECT n.account_code, n.asset INTO bad FROM new_lines AS n
   WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts AS a WHERE a.code = n.account_code AND a.asset = n.asset OFFSET 0)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger line names account % in %, which does not exist', bad.account_code, bad.asset
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'fk_lines_account';
  END IF;
  RETURN NULL;
END $$
"""

_ONE_QUERY = """
CREATE OR REPLACE FUNCTION ledger_check_line_references() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad record;
BEGIN
  PERFORM FROM new_lines AS n
   WHERE NOT EXISTS (SELECT 1 FROM ledger_entries AS e WHERE e.id = n.entry_id OFFSET 0)
      OR NOT EXISTS (SELECT 1 FROM ledger_accounts AS a WHERE a.code = n.account_code AND a.asset = n.asset OFFSET 0)
   LIMIT 1;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  -- A line is wrong: say which, as 0005 did (a missing entry first).
  SELECT n.entry_id, n.line_no INTO bad FROM new_lines AS n
   WHERE NOT EXISTS (SELECT 1 FROM ledger_entries AS e WHERE e.id = n.entry_id OFFSET 0) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger line % names entry %, which does not exist', bad.line_no, bad.entry_id
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'fk_lines_entry';
  END IF;
  SELECT n.account_code, n.asset INTO bad FROM new_lines AS n
   WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts AS a WHERE a.code = n.account_code AND a.asset = n.asset OFFSET 0)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger line names account % in %, which does not exist', bad.account_code, bad.asset
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'fk_lines_account';
  END IF;
  RETURN NULL;
END $$
"""

# The entry's balance check as 0001 made it (two aggregate queries), and as this revision makes it (one pass).
_BALANCED_AGGREGATES = """
CREATE OR REPLACE FUNCTION ledger_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  target varchar;
  line_count bigint;
  first_line integer;
  last_line integer;
  unbalanced boolean;
  bad record;
BEGIN
  IF TG_TABLE_NAME = 'ledger_lines' THEN
    -- Lines of an entry inserted by this same transaction are checked once, by that entry's own trigger.
    PERFORM 1 FROM ledger_entries WHERE id = NEW.entry_id AND xmin = pg_current_xact_id()::xid;
    IF FOUND THEN
      RETURN NULL;
    END IF;
    target := NEW.entry_id;
  ELSE
    target := NEW.id;
  END IF;
  SELECT coalesce(sum(n), 0), min(lo), max(hi), coalesce(bool_or(total <> 0), false)
    INTO line_count, first_line, last_line, unbalanced
    FROM (SELECT count(*) AS n, min(line_no) AS lo, max(line_no) AS hi, sum(amount) AS total
            FROM ledger_lines WHERE entry_id = target GROUP BY asset) AS t;
  IF unbalanced THEN
    SELECT asset, sum(amount) AS total INTO bad FROM ledger_lines WHERE entry_id = target
     GROUP BY asset HAVING sum(amount) <> 0 ORDER BY asset LIMIT 1;
    RAISE EXCEPTION 'ledger entry % does not sum to zero: % off by %', target, bad.asset, bad.total
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_balanced';
  END IF;
  -- Lines numbered 0..n-1 (n >= 2): so every entry has lines 0 and 1, and a line added to an old entry later
  -- either collides with them (unique) or is numbered 2 or more, which fires the line trigger below.
  IF line_count < 2 OR first_line <> 0 OR last_line <> line_count - 1 THEN
    RAISE EXCEPTION 'ledger entry % has % line(s) numbered % to %; it needs two or more numbered from 0',
      target, line_count, first_line, last_line
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_balanced';
  END IF;
  RETURN NULL;
END $$
"""

_BALANCED_ONE_PASS = """
CREATE OR REPLACE FUNCTION ledger_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  target varchar;
  line_count bigint;
  first_line integer;
  last_line integer;
  low_asset varchar;
  high_asset varchar;
  total numeric;
  unbalanced boolean;
  bad record;
BEGIN
  IF TG_TABLE_NAME = 'ledger_lines' THEN
    -- Lines of an entry inserted by this same transaction are checked once, by that entry's own trigger.
    PERFORM 1 FROM ledger_entries WHERE id = NEW.entry_id AND xmin = pg_current_xact_id()::xid;
    IF FOUND THEN
      RETURN NULL;
    END IF;
    target := NEW.entry_id;
  ELSE
    target := NEW.id;
  END IF;
  -- One plain aggregate; an entry in one asset (nearly all) is balanced when its lines sum to zero.
  SELECT count(*), min(line_no), max(line_no), min(asset), max(asset), sum(amount)
    INTO line_count, first_line, last_line, low_asset, high_asset, total
    FROM ledger_lines WHERE entry_id = target;
  IF low_asset IS NULL OR low_asset <> high_asset THEN
    -- Several assets (or no line): each asset's sum, as 0001 checked every entry.
    SELECT coalesce(sum(n), 0), min(lo), max(hi), coalesce(bool_or(t.total <> 0), false)
      INTO line_count, first_line, last_line, unbalanced
      FROM (SELECT count(*) AS n, min(line_no) AS lo, max(line_no) AS hi, sum(amount) AS total
              FROM ledger_lines WHERE entry_id = target GROUP BY asset) AS t;
    IF unbalanced THEN
      SELECT asset, sum(amount) AS total INTO bad FROM ledger_lines WHERE entry_id = target
       GROUP BY asset HAVING sum(amount) <> 0 ORDER BY asset LIMIT 1;
      RAISE EXCEPTION 'ledger entry % does not sum to zero: % off by %', target, bad.asset, bad.total
        USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_balanced';
    END IF;
  ELSIF total <> 0 THEN
    RAISE EXCEPTION 'ledger entry % does not sum to zero: % off by %', target, low_asset, total
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_balanced';
  END IF;
  -- Lines numbered 0..n-1 (n >= 2): so every entry has lines 0 and 1, and a line added to an old entry later
  -- either collides with them (unique) or is numbered 2 or more, which fires the line trigger below.
  IF line_count < 2 OR first_line <> 0 OR last_line <> line_count - 1 THEN
    RAISE EXCEPTION 'ledger entry % has % line(s) numbered % to %; it needs two or more numbered from 0',
      target, line_count, first_line, last_line
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_balanced';
  END IF;
  RETURN NULL;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_ONE_QUERY)
        op.execute(_BALANCED_ONE_PASS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_BALANCED_AGGREGATES)
        op.execute(_TWO_QUERIES)
