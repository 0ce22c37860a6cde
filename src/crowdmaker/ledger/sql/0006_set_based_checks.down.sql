-- Back to the row-level triggers of 0001_double_entry.sql, 0003_no_overdraft.sql and 0004_sealed_history.sql.
DROP TRIGGER ledger_legs_apply ON ledger_leg;
DROP TRIGGER ledger_transactions_queue ON ledger_transaction;
DROP FUNCTION ledger_legs_apply();
DROP FUNCTION ledger_transactions_queue();
DROP TABLE ledger_posting_check;
DROP FUNCTION ledger_check_postings();
DROP FUNCTION ledger_posting_check_guard();

CREATE OR REPLACE FUNCTION ledger_leg_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    account_currency char(3);
BEGIN
    UPDATE ledger_account SET balance = balance + NEW.amount
        WHERE id = NEW.account_id
        RETURNING currency INTO account_currency;
    IF account_currency IS DISTINCT FROM NEW.currency THEN
        RAISE EXCEPTION 'leg in % posted to account % held in %', NEW.currency, NEW.account_id, account_currency
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER ledger_leg_apply
    BEFORE INSERT ON ledger_leg
    FOR EACH ROW EXECUTE FUNCTION ledger_leg_apply();

CREATE OR REPLACE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    unbalanced record;
BEGIN
    IF NOT (SELECT l.xmin = t.xmin FROM ledger_leg l JOIN ledger_transaction t ON t.id = l.transaction_id
            WHERE l.id = NEW.id) THEN
        RAISE EXCEPTION 'legs are added to ledger transaction % only when it is created (history is append-only)',
            NEW.transaction_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    SELECT currency, sum(amount) AS total INTO unbalanced
        FROM ledger_leg WHERE transaction_id = NEW.transaction_id
        GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not balance: its % legs sum to %',
            NEW.transaction_id, unbalanced.currency, unbalanced.total
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER ledger_leg_balanced
    AFTER INSERT ON ledger_leg
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();

CREATE OR REPLACE FUNCTION ledger_check_has_legs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM ledger_leg WHERE transaction_id = NEW.id) < 2 THEN
        RAISE EXCEPTION 'ledger transaction % needs at least two legs', NEW.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER ledger_transaction_has_legs
    AFTER INSERT ON ledger_transaction
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_has_legs();

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
