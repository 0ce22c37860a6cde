-- Back to ledger_check_postings of 0006_set_based_checks.sql and ledger_legs_apply of 0007_legs_apply_by_index.sql.
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

    SELECT count(*) INTO sound FROM (
        SELECT per_currency.transaction_id
        FROM (SELECT transaction_id, currency, count(*) AS legs, sum(amount) AS total
              FROM ledger_leg WHERE transaction_id = ANY(transactions)
              GROUP BY transaction_id, currency) per_currency
        GROUP BY per_currency.transaction_id
        HAVING sum(per_currency.legs) >= 2 AND bool_and(per_currency.total = 0)
    ) balanced;
    IF sound < cardinality(transactions) THEN
        SELECT transaction_id, currency, sum(amount) AS total INTO bad
            FROM ledger_leg WHERE transaction_id = ANY(transactions)
            GROUP BY transaction_id, currency HAVING sum(amount) <> 0
            ORDER BY transaction_id, currency LIMIT 1;
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

    SELECT id, balance, currency INTO bad
        FROM ledger_account WHERE id = ANY(accounts) AND NOT allow_negative AND balance < 0
        ORDER BY id LIMIT 1;
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
        FROM new_legs n
        LEFT JOIN (SELECT id, currency FROM ledger_account WHERE id = ANY(accounts)) a ON a.id = n.account_id
        WHERE a.currency IS DISTINCT FROM n.currency LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'leg in % posted to account % held in %', bad.leg_currency, bad.account_id,
            bad.account_currency
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;

    -- Every row this statement wrote carries the (sub)transaction id it was written in.
    SELECT l.xmin INTO statement_xid FROM ledger_leg l WHERE l.id = (SELECT min(id) FROM new_legs);
    SELECT t.id INTO bad FROM ledger_transaction t WHERE t.id = ANY(transactions) AND t.xmin <> statement_xid LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'legs are added to ledger transaction % only when it is created (history is append-only)',
            bad.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;

    PERFORM 1 FROM ledger_account WHERE id = ANY(accounts) ORDER BY id FOR NO KEY UPDATE;
    UPDATE ledger_account a SET balance = a.balance + moved.total
        FROM (SELECT account_id, sum(amount) AS total FROM new_legs GROUP BY account_id HAVING sum(amount) <> 0) moved
        WHERE a.id = ANY(accounts) AND a.id = moved.account_id;

    INSERT INTO ledger_posting_check (transaction_ids, account_ids) VALUES (transactions, accounts);
    RETURN NULL;
END;
$$;
