-- ledger_legs_apply of 0006 joined the statement's legs to ledger_account and ledger_transaction, and the planner
-- may answer such a join by reading the whole table (a hash join over a sequential scan): cheap while the ledger
-- is small or believed small (never analyzed, or autovacuum off), a full scan per statement once it is not. Here
-- every look-up goes by primary key (`= ANY(ids)`), whatever the statistics say. Same rules and messages.
-- Applied by migration ledger.0010; undone by 0007_legs_apply_by_index.down.sql.
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
