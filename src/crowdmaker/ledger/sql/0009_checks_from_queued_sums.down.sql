-- Back to ledger_check_postings and ledger_legs_apply of 0008_checks_by_key.sql: the commit-time checks re-read the
-- queued transactions' legs, and every account of a statement is locked.
DROP TRIGGER ledger_posting_check_insert_guard ON ledger_posting_check;
DROP FUNCTION ledger_posting_check_queued_by_triggers();

CREATE OR REPLACE FUNCTION ledger_check_postings() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    transactions bigint[];
    accounts bigint[];
    sound bigint;
    bad record;
BEGIN
    WITH queued AS (
        DELETE FROM ledger_posting_check WHERE xact = NEW.xact RETURNING transaction_ids, account_ids
    )
    SELECT ARRAY(SELECT DISTINCT unnest(q.transaction_ids) FROM queued q),
           ARRAY(SELECT DISTINCT unnest(q.account_ids) FROM queued q)
        INTO transactions, accounts;
    IF cardinality(transactions) = 0 AND cardinality(accounts) = 0 THEN
        RETURN NULL;  -- checked already, by the first queued row of this database transaction to fire
    END IF;

    SELECT count(*) INTO sound
        FROM unnest(transactions) AS t(id)
        CROSS JOIN LATERAL (
            SELECT sum(per_currency.legs) AS legs, bool_and(per_currency.total = 0) AS balanced
            FROM (SELECT count(*) AS legs, sum(l.amount) AS total FROM ledger_leg l
                  WHERE l.transaction_id = t.id GROUP BY l.currency) per_currency
        ) c
        WHERE c.legs >= 2 AND c.balanced;
    IF sound < cardinality(transactions) THEN
        SELECT t.id AS transaction_id, c.currency, c.total INTO bad
            FROM unnest(transactions) AS t(id)
            CROSS JOIN LATERAL (
                SELECT l.currency, sum(l.amount) AS total FROM ledger_leg l
                WHERE l.transaction_id = t.id GROUP BY l.currency HAVING sum(l.amount) <> 0
            ) c
            ORDER BY t.id, c.currency LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger transaction % does not balance: its % legs sum to %',
                bad.transaction_id, bad.currency, bad.total
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        SELECT t.id INTO bad
            FROM unnest(transactions) AS t(id)
            WHERE (SELECT count(*) FROM ledger_leg l WHERE l.transaction_id = t.id) < 2
            ORDER BY t.id LIMIT 1;
        RAISE EXCEPTION 'ledger transaction % needs at least two legs', bad.id
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

    -- Locked in id order (the array is sorted); then each account whose legs do not net to zero moves once.
    PERFORM 1 FROM unnest(accounts) AS x(id)
        CROSS JOIN LATERAL (SELECT 1 FROM ledger_account WHERE id = x.id LIMIT 1 FOR NO KEY UPDATE) locked;
    FOR moved IN
        SELECT account_id, sum(amount) AS total FROM new_legs GROUP BY account_id HAVING sum(amount) <> 0
        ORDER BY account_id
    LOOP
        UPDATE ledger_account SET balance = balance + moved.total WHERE id = moved.account_id;
    END LOOP;

    INSERT INTO ledger_posting_check (transaction_ids, account_ids) VALUES (transactions, accounts);
    RETURN NULL;
END;
$$;

ALTER TABLE ledger_posting_check
    DROP COLUMN leg_transactions,
    DROP COLUMN leg_currencies,
    DROP COLUMN leg_counts,
    DROP COLUMN leg_sums;
