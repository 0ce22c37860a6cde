-- A leg's ledger transaction and account are checked by the legs' statement trigger instead of by two declared
-- foreign keys. The foreign keys were checked at commit, one query and one row lock per leg and key (12 per settled
-- pledge), and queued 12 trigger events per pledge: measured on a 20,000-pledge settlement, 0.9 of 4.4 CPU-seconds
-- of PostgreSQL. The statement trigger already looks up each distinct account (its currency) and each distinct
-- transaction (its seal) of the statement, once; it now also refuses a leg whose account or transaction does not
-- exist. What the foreign keys also did, keep a referenced row from being deleted, the ledger's own rules do:
-- accounts are never deleted (0004), transactions never updated or deleted (0001). Like the append-only rules, this
-- does not cover TRUNCATE, a table owner's statement that row triggers do not see (TRUNCATE ... CASCADE went past the
-- foreign keys too); `crowdmaker ledger verify` finds legs without their account or transaction.
--
-- Applied by migration ledger.0014 (which also drops the two constraints: Leg.transaction and Leg.account
-- db_constraint=False); undone by 0010_legs_references_checked.down.sql.

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
        WHERE a.currency IS DISTINCT FROM n.currency
        ORDER BY a.currency IS NULL DESC LIMIT 1;
    IF FOUND AND bad.account_currency IS NULL THEN
        RAISE EXCEPTION 'leg posted to ledger account %, which does not exist', bad.account_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'leg in % posted to account % held in %', bad.leg_currency, bad.account_id,
            bad.account_currency
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;

    -- Every row this statement wrote carries the (sub)transaction id it was written in.
    SELECT l.xmin INTO statement_xid FROM ledger_leg l WHERE l.id = (SELECT min(id) FROM new_legs);
    SELECT x.id, t.xmin IS NULL AS missing INTO bad
        FROM unnest(transactions) AS x(id)
        LEFT JOIN LATERAL (SELECT xmin FROM ledger_transaction WHERE id = x.id LIMIT 1) t ON true
        WHERE t.xmin IS DISTINCT FROM statement_xid
        ORDER BY t.xmin IS NULL DESC LIMIT 1;
    IF FOUND AND bad.missing THEN
        RAISE EXCEPTION 'leg posted to ledger transaction %, which does not exist', bad.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
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
