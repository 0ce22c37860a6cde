-- The commit-time checks of 0006/0008 (every queued ledger transaction has two legs or more and balances per
-- currency; no queued account that may not go negative is below zero) re-read each queued transaction's legs at
-- commit: 2,000 index look-ups and aggregates for a settlement batch of 1,000 payments. Here the statement trigger
-- on ledger_leg, which sees every leg as it is inserted, queues each transaction's leg count and sum per currency,
-- and the check adds up what the statements of the database transaction queued. That is the same sum as the legs
-- themselves: every leg is inserted by a statement that fires the trigger, legs are never updated or deleted
-- (0004), a leg goes only to a transaction created in its own (sub)transaction (0004, checked here as before), and
-- what a rolled-back savepoint queued vanishes with the legs it counted. So that nobody can queue sums by hand
-- (sums that cancel a transaction's real ones), only the ledger's triggers may insert into the queue, as only the
-- checks may take rows off it (0006).
--
-- The accounts: only those whose legs in the statement do not net to zero move, each locked by its own UPDATE in id
-- order (concurrent postings still queue up in one order and never deadlock), and only those are queued for the
-- overdraft check; an account whose legs net to zero (the payer's pass-through account of a capture) keeps its
-- balance and is neither written nor locked (its row stays untouched: no lock to write on 1,000 rows a batch).
--
-- Applied by migration ledger.0012; undone by 0009_checks_from_queued_sums.down.sql.

ALTER TABLE ledger_posting_check
    ADD COLUMN leg_transactions bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN leg_currencies text[] NOT NULL DEFAULT '{}',
    ADD COLUMN leg_counts bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN leg_sums numeric[] NOT NULL DEFAULT '{}';

-- Rows are queued only by the ledger's statement triggers (trigger depth 2: this trigger, fired by their INSERT).
CREATE OR REPLACE FUNCTION ledger_posting_check_queued_by_triggers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'the ledger''s queue of commit-time checks is filled only by the ledger''s triggers: INSERT refused'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER ledger_posting_check_insert_guard
    BEFORE INSERT ON ledger_posting_check
    FOR EACH ROW EXECUTE FUNCTION ledger_posting_check_queued_by_triggers();

CREATE OR REPLACE FUNCTION ledger_check_postings() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    queued_rows bigint;
    accounts bigint[];
    too_few bigint;
    unbalanced_id bigint;
    unbalanced_currency text;
    unbalanced_total numeric;
    bad record;
BEGIN
    WITH queued AS (
        DELETE FROM ledger_posting_check WHERE xact = NEW.xact
        RETURNING transaction_ids, account_ids, leg_transactions, leg_currencies, leg_counts, leg_sums
    ), per_currency AS (
        SELECT l.transaction_id, l.currency, sum(l.legs) AS legs, sum(l.total) AS total
        FROM queued q
        CROSS JOIN LATERAL unnest(q.leg_transactions, q.leg_currencies, q.leg_counts, q.leg_sums)
            AS l(transaction_id, currency, legs, total)
        GROUP BY l.transaction_id, l.currency
    ), per_transaction AS (
        SELECT t.id, coalesce(sum(p.legs), 0) AS legs
        FROM (SELECT DISTINCT unnest(q.transaction_ids) AS id FROM queued q) t
        LEFT JOIN per_currency p ON p.transaction_id = t.id
        GROUP BY t.id
    )
    SELECT (SELECT count(*) FROM queued),
           ARRAY(SELECT DISTINCT unnest(q.account_ids) FROM queued q),
           (SELECT min(id) FROM per_transaction WHERE legs < 2),
           u.transaction_id, u.currency, u.total
        INTO queued_rows, accounts, too_few, unbalanced_id, unbalanced_currency, unbalanced_total
        FROM (SELECT 1) one
        LEFT JOIN LATERAL (
            SELECT transaction_id, currency, total FROM per_currency WHERE total <> 0
            ORDER BY transaction_id, currency LIMIT 1
        ) u ON true;
    IF queued_rows = 0 THEN
        RETURN NULL;  -- checked already, by the first queued row of this database transaction to fire
    END IF;

    IF unbalanced_id IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % does not balance: its % legs sum to %',
            unbalanced_id, unbalanced_currency, unbalanced_total
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF too_few IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % needs at least two legs', too_few
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;

    SELECT a.id, a.balance, a.currency INTO bad
        FROM unnest(accounts) AS x(id)
        CROSS JOIN LATERAL (
            SELECT id, balance, currency FROM ledger_account
            WHERE id = x.id AND NOT allow_negative AND balance < 0 LIMIT 1
        ) a
        ORDER BY a.id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger account % would be overdrawn: balance % %', bad.id, bad.balance, bad.currency
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION ledger_legs_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
    moved record;
    statement_xid xid;
    accounts bigint[];
    transactions bigint[];
    moving bigint[] := '{}';
BEGIN
    SELECT array_agg(DISTINCT account_id ORDER BY account_id), array_agg(DISTINCT transaction_id)
        INTO accounts, transactions FROM new_legs;
    IF accounts IS NULL THEN
        RETURN NULL;
    END IF;

    SELECT n.account_id, n.currency AS leg_currency, a.currency AS account_currency INTO bad
        FROM (SELECT DISTINCT account_id, currency FROM new_legs) n
        LEFT JOIN LATERAL (SELECT currency FROM ledger_account WHERE id = n.account_id LIMIT 1) a ON true
        WHERE a.currency IS DISTINCT FROM n.currency LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'leg in % posted to account % held in %', bad.leg_currency, bad.account_id,
            bad.account_currency
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;

    -- Every row this statement wrote carries the (sub)transaction id it was written in.
    SELECT l.xmin INTO statement_xid FROM ledger_leg l WHERE l.id = (SELECT min(id) FROM new_legs);
    SELECT x.id INTO bad
        FROM unnest(transactions) AS x(id)
        CROSS JOIN LATERAL (SELECT xmin FROM ledger_transaction WHERE id = x.id LIMIT 1) t
        WHERE t.xmin <> statement_xid LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'legs are added to ledger transaction % only when it is created (history is append-only)',
            bad.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;

    -- Each account whose legs do not net to zero moves once, in id order (its UPDATE locks it).
    FOR moved IN
        SELECT account_id, sum(amount) AS total FROM new_legs GROUP BY account_id HAVING sum(amount) <> 0
        ORDER BY account_id
    LOOP
        UPDATE ledger_account SET balance = balance + moved.total WHERE id = moved.account_id;
        moving := moving || moved.account_id;
    END LOOP;

    INSERT INTO ledger_posting_check (transaction_ids, account_ids, leg_transactions, leg_currencies, leg_counts,
                                      leg_sums)
        SELECT transactions, moving, array_agg(c.transaction_id), array_agg(c.currency), array_agg(c.legs),
               array_agg(c.total)
        FROM (SELECT transaction_id, currency, count(*) AS legs, sum(amount) AS total FROM new_legs
              GROUP BY transaction_id, currency) c;
    RETURN NULL;
END;
$$;
