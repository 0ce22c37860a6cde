DROP TRIGGER IF EXISTS ledger_payment_guard ON ledger_payment;
DROP FUNCTION IF EXISTS ledger_payment_guard();
