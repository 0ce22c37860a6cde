-- Back to the definition of 0006_set_based_checks.sql.
CREATE OR REPLACE FUNCTION ledger_legs_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
    statement_xid xid;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM new_legs) THEN
        RETURN NULL;
    END IF;

    SELECT n.account_id, n.currency AS leg_currency, a.currency AS account_currency INTO bad
        FROM new_legs n JOIN ledger_account a ON a.id = n.account_id
        WHERE a.currency IS DISTINCT FROM n.currency LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'leg in % posted to account % held in %', bad.leg_currency, bad.account_id,
            bad.account_currency
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;

    -- Every row this statement wrote carries the (sub)transaction id it was written in.
    SELECT l.xmin INTO statement_xid FROM ledger_leg l WHERE l.id = (SELECT min(id) FROM new_legs);
    SELECT t.id INTO bad
        FROM ledger_transaction t
        WHERE t.id IN (SELECT DISTINCT transaction_id FROM new_legs) AND t.xmin <> statement_xid
        LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'legs are added to ledger transaction % only when it is created (history is append-only)',
            bad.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;

    PERFORM 1 FROM ledger_account WHERE id IN (SELECT account_id FROM new_legs) ORDER BY id FOR NO KEY UPDATE;
    UPDATE ledger_account a SET balance = a.balance + moved.total
        FROM (SELECT account_id, sum(amount) AS total FROM new_legs GROUP BY account_id) moved
        WHERE a.id = moved.account_id AND moved.total <> 0;

    INSERT INTO ledger_posting_check (transaction_ids, account_ids)
        SELECT array_agg(DISTINCT transaction_id), array_agg(DISTINCT account_id) FROM new_legs;
    RETURN NULL;
END;
$$;
