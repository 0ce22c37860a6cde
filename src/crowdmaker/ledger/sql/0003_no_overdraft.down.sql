DROP TRIGGER IF EXISTS ledger_leg_no_overdraft ON ledger_leg;
DROP FUNCTION IF EXISTS ledger_check_no_overdraft();
