-- A published design version never changes and is never deleted: a new version supersedes it.
CREATE OR REPLACE FUNCTION commons_designversion_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'design version % is published and immutable (% refused); publish a new version instead',
        OLD.id, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER commons_designversion_immutable
    BEFORE UPDATE OR DELETE ON commons_designversion
    FOR EACH ROW EXECUTE FUNCTION commons_designversion_immutable();
