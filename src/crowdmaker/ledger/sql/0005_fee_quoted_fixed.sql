-- The fee quoted to the payer at authorization never changes afterwards (MONEY.md: shown before they commit).
CREATE OR REPLACE FUNCTION ledger_payment_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'payments are kept: DELETE on ledger_payment refused'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (NEW.payer_id, NEW.payee_kind, NEW.payee_id, NEW.amount, NEW.currency, NEW.reference, NEW.gateway,
        NEW.fee_quoted)
        IS DISTINCT FROM
       (OLD.payer_id, OLD.payee_kind, OLD.payee_id, OLD.amount, OLD.currency, OLD.reference, OLD.gateway,
        OLD.fee_quoted) THEN
        RAISE EXCEPTION 'a payment''s parties, amount, quoted fee, currency, gateway and reference never change'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.captured_amount < OLD.captured_amount OR NEW.refunded_amount < OLD.refunded_amount
       OR (OLD.capture_id <> '' AND NEW.capture_id <> OLD.capture_id)
       OR (OLD.authorization_id <> '' AND NEW.authorization_id <> OLD.authorization_id) THEN
        RAISE EXCEPTION 'a payment''s captures and refunds only grow, and its gateway ids are set once'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.status <> OLD.status AND NOT (
        (OLD.status = 'pending' AND NEW.status IN ('authorized', 'failed'))
        OR (OLD.status = 'authorized' AND NEW.status IN ('captured', 'voided', 'failed'))
        OR (OLD.status = 'captured' AND NEW.status IN ('partially_refunded', 'refunded'))
        OR (OLD.status = 'partially_refunded' AND NEW.status = 'refunded')
    ) THEN
        RAISE EXCEPTION 'payment status may not go from % to %', OLD.status, NEW.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;
