-- Back to ledger_legs_apply of 0009_checks_from_queued_sums.sql (the foreign keys check the references again).
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
