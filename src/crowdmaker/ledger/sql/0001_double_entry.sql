-- Double entry, enforced by PostgreSQL whatever writes the rows (ORM, raw SQL, psql).
-- Applied by migration ledger.0002; undone by 0001_double_entry.down.sql.

-- 1. Transactions and legs are append-only: corrections are new, reversing transactions.
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are append-only: % on % refused (post a reversing transaction instead)',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER ledger_transaction_append_only
    BEFORE UPDATE OR DELETE ON ledger_transaction
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

CREATE TRIGGER ledger_leg_append_only
    BEFORE UPDATE OR DELETE ON ledger_leg
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

-- 2. A leg is in its account's currency, and moves the account's cached balance. The balance check on
--    ledger_account (no overdraft unless allowed) then refuses a leg that would overdraw it; the UPDATE
--    takes the account's row lock, so concurrent postings to one account cannot lose an update.
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

-- 3. An account's identity never changes, and its balance changes only through legs (trigger depth 2).
CREATE OR REPLACE FUNCTION ledger_account_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'ledger accounts are never deleted' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.owner_kind <> OLD.owner_kind OR NEW.owner_id <> OLD.owner_id OR NEW.purpose <> OLD.purpose
       OR NEW.currency <> OLD.currency THEN
        RAISE EXCEPTION 'a ledger account''s owner, purpose and currency never change'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.balance <> OLD.balance AND pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'a ledger account''s balance changes only through legs'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER ledger_account_guard
    BEFORE UPDATE OR DELETE ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_account_guard();

-- 4. At commit: every transaction's legs sum to zero per currency, and a transaction has two legs or more.
CREATE OR REPLACE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    unbalanced record;
BEGIN
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
