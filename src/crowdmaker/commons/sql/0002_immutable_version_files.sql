-- A file published with a design version is as immutable as the version: never changed, never deleted.
CREATE OR REPLACE FUNCTION commons_versionfile_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'file % of a published design version is immutable (% refused); publish a new version instead',
        OLD.id, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER commons_versionfile_immutable
    BEFORE UPDATE OR DELETE ON commons_versionfile
    FOR EACH ROW EXECUTE FUNCTION commons_versionfile_immutable();
