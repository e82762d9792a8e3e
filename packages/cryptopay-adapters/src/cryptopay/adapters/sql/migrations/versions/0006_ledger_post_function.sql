-- Migration 0006 (PostgreSQL only): ledger_post_new_entries, a whole new-entries write in one statement.
-- Loaded by 0006_ledger_post_function.py; the rules it applies are in that migration's docstring and mirror
-- cryptopay.core.ledger.book.apply_postings. Statements are separated by a line holding only "-- ;;".

CREATE FUNCTION ledger_decline(reason text) RETURNS numeric LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger fast path declined: %', reason USING ERRCODE = 'CPL01';
END $$;
-- ;;

CREATE FUNCTION ledger_post_new_entries(p_entries json, p_lines json)
RETURNS TABLE (entry_id varchar, line_no integer, balance_before numeric, balance_after numeric)
LANGUAGE plpgsql AS $$
DECLARE
  wanted_count bigint;
  locked_count bigint;
BEGIN
  PERFORM 1 FROM json_to_recordset(p_entries) AS e (idempotency_key varchar)
    CROSS JOIN LATERAL (SELECT 1 FROM ledger_idempotency AS i WHERE i.key = e.idempotency_key LIMIT 1) AS used;
  IF FOUND THEN
    PERFORM ledger_decline('an idempotency key is already recorded');
  END IF;
  SELECT count(*), count(locked.code) INTO wanted_count, locked_count
    FROM (SELECT DISTINCT l.account_code FROM json_to_recordset(p_lines) AS l (account_code varchar)
           ORDER BY l.account_code) AS wanted
    LEFT JOIN LATERAL (SELECT a.code FROM ledger_accounts AS a WHERE a.code = wanted.account_code FOR UPDATE)
      AS locked ON true;
  IF locked_count < wanted_count THEN
    -- An account missing now may be opened before the write below reads it: never use a row not locked here.
    PERFORM ledger_decline('an account is missing');
  END IF;
  RETURN QUERY
  WITH e AS (
    SELECT * FROM json_to_recordset(p_entries) AS e (id varchar, idempotency_key varchar, request_hash varchar,
      description text, created_at timestamptz, quote_id varchar, meta text)
  ), new_entries AS (
    INSERT INTO ledger_entries (id, idempotency_key, description, created_at, quote_id, reverses, hold_id, meta)
    SELECT e.id, e.idempotency_key, e.description, e.created_at, e.quote_id, NULL, NULL, e.meta FROM e
  ), new_keys AS (
    INSERT INTO ledger_idempotency (key, request_hash, result_kind, result_id)
    SELECT e.idempotency_key, e.request_hash, 'entry', e.id FROM e
  ), l AS (
    SELECT l.*, a.code IS NULL OR a.asset <> l.asset AS foreign_line,
           coalesce(a.allow_negative, true) AS allow_negative, a.available,
           CASE WHEN a.debit_normal THEN a.debits_posted - a.credits_posted
                ELSE a.credits_posted - a.debits_posted END AS opening,
           CASE WHEN a.debit_normal THEN l.amount ELSE -l.amount END AS delta
      FROM json_to_recordset(p_lines) AS l (entry_id varchar, seq integer, line_no integer, account_code varchar,
        asset varchar, amount numeric, "limit" numeric)
      LEFT JOIN LATERAL (SELECT * FROM ledger_accounts AS a WHERE a.code = l.account_code LIMIT 1) AS a ON true
  ), w AS (
    SELECT l.*,
           sum(l.delta) OVER (PARTITION BY l.account_code ORDER BY l.seq, l.line_no) AS moved,
           sum(l.delta) OVER (PARTITION BY l.account_code ORDER BY l.seq RANGE UNBOUNDED PRECEDING) AS moved_by_entry
      FROM l
  ), new_lines AS (
    INSERT INTO ledger_lines (entry_id, line_no, account_code, asset, amount, balance_before, balance_after)
    SELECT w.entry_id, w.line_no, w.account_code, w.asset, w.amount,
           CASE WHEN w.foreign_line THEN ledger_decline('an account is missing or holds another asset')
                WHEN NOT w.allow_negative AND w.available + w.moved_by_entry < 0
                THEN ledger_decline('an account would go negative')
                WHEN abs(w.opening + w.moved) >= w."limit" THEN ledger_decline('a balance would exceed the precision')
                ELSE 0 END + w.opening + w.moved - w.delta,
           w.opening + w.moved
      FROM w
    RETURNING ledger_lines.entry_id, ledger_lines.line_no, ledger_lines.balance_before, ledger_lines.balance_after
  ), totals AS (
    SELECT l.account_code, sum(greatest(l.amount, 0)) AS debits, sum(greatest(-l.amount, 0)) AS credits,
           sum(l.delta) AS delta, min(l."limit") AS "limit", bool_or(l.foreign_line) AS foreign_line
      FROM l GROUP BY l.account_code
  ), new_balances AS (
    UPDATE ledger_accounts AS a
       SET debits_posted = a.debits_posted + totals.debits
             + CASE WHEN totals.foreign_line THEN ledger_decline('an account holds another asset')
                    WHEN NOT a.allow_negative AND a.available + totals.delta < 0
                    THEN ledger_decline('an account would go negative')
                    WHEN a.debits_posted + totals.debits >= totals."limit"
                      OR a.credits_posted + totals.credits >= totals."limit"
                      OR abs(a.available + totals.delta) >= totals."limit"
                    THEN ledger_decline('a total would exceed the precision') ELSE 0 END,
           credits_posted = a.credits_posted + totals.credits,
           available = a.available + totals.delta
      FROM totals
     CROSS JOIN LATERAL (SELECT t.ctid FROM ledger_accounts AS t WHERE t.code = totals.account_code LIMIT 1) AS target
     WHERE a.ctid = target.ctid
    RETURNING 1
  )
  -- The write checks lines and totals alike, so it declines before a table constraint refuses, whichever of the
  -- two runs first (the count below makes the balance update run before the lines are read).
  SELECT * FROM new_lines
   WHERE CASE WHEN (SELECT count(*) FROM new_balances) = (SELECT count(*) FROM totals) THEN true
              ELSE ledger_decline('an account row changed under the write') IS NULL END;
END $$;
