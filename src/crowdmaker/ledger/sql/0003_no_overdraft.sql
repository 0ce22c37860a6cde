-- No overdraft, judged on a transaction's net effect: checked at commit (deferred), after all its legs are in,
-- so the order in which a posting lists its legs never decides whether it is refused. Replaces the row-level
-- CHECK ledger_account_no_overdraft, which saw every intermediate balance. The balance UPDATE in
-- ledger_leg_apply holds the account's row lock until commit, so concurrent postings are still serialised.
CREATE OR REPLACE FUNCTION ledger_check_no_overdraft() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    overdrawn record;
BEGIN
    SELECT id, balance, currency INTO overdrawn
        FROM ledger_account WHERE id = NEW.account_id AND NOT allow_negative AND balance < 0;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger account % would be overdrawn: balance % %', overdrawn.id, overdrawn.balance,
            overdrawn.currency
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER ledger_leg_no_overdraft
    AFTER INSERT ON ledger_leg
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_no_overdraft();
