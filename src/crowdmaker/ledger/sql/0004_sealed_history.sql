-- Close the raw-SQL ways around append-only history that 0001 left open:
-- 1. legs added later to a committed transaction (a balanced pair would pass the balance check);
-- 2. an account inserted with a cached balance its legs do not hold;
-- 3. an account's overdraft permission switched after the fact.

-- 1. A leg belongs to the database (sub)transaction that created its ledger transaction: their xmin agree.
--    transaction_post creates a transaction and its legs in one savepoint, as any honest writer does.
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

-- 2 and 3. Accounts start at zero; owner, purpose, currency and overdraft permission never change.
CREATE OR REPLACE FUNCTION ledger_account_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'ledger accounts are never deleted' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.balance <> 0 THEN
            RAISE EXCEPTION 'a ledger account opens with a zero balance; money arrives through legs'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.owner_kind <> OLD.owner_kind OR NEW.owner_id <> OLD.owner_id OR NEW.purpose <> OLD.purpose
       OR NEW.currency <> OLD.currency OR NEW.allow_negative <> OLD.allow_negative THEN
        RAISE EXCEPTION 'a ledger account''s owner, purpose, currency and overdraft permission never change'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.balance <> OLD.balance AND pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'a ledger account''s balance changes only through legs'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

DROP TRIGGER ledger_account_guard ON ledger_account;
CREATE TRIGGER ledger_account_guard
    BEFORE INSERT OR UPDATE OR DELETE ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_account_guard();
