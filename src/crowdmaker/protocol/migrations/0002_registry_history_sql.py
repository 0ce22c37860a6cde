"""History of the interface registry held by the database, so it holds even for raw SQL.

- An accepted or deprecated version is frozen: no column changes except status accepted -> deprecated, and it
  is never deleted. Proposed versions may still be decided (accepted, with `decided_at`).
- An interface type's name and kind never change (manifests refer to the name).
- A version's dimensions are a JSON object.
"""

from django.db import migrations

SQL = r"""
CREATE FUNCTION protocol_interface_version_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'proposed' THEN
            RAISE EXCEPTION 'interface version % (id %) is %, part of the registry''s history: it cannot be deleted',
                OLD.version, OLD.id, OLD.status USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'proposed' THEN
        RETURN NEW;
    END IF;
    IF OLD.status = 'accepted' AND NEW.status = 'deprecated'
            AND to_jsonb(NEW) - 'status' = to_jsonb(OLD) - 'status' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'interface version % (id %) is % and frozen: publish a new version instead',
        OLD.version, OLD.id, OLD.status USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE TRIGGER protocol_interface_version_frozen
    BEFORE UPDATE OR DELETE ON protocol_interfaceversion
    FOR EACH ROW EXECUTE FUNCTION protocol_interface_version_frozen();

CREATE FUNCTION protocol_interface_type_name_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name <> OLD.name OR NEW.kind <> OLD.kind THEN
        RAISE EXCEPTION 'interface type % cannot be renamed or change kind: propose a new type instead',
            OLD.name USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER protocol_interface_type_name_fixed
    BEFORE UPDATE ON protocol_interfacetype
    FOR EACH ROW EXECUTE FUNCTION protocol_interface_type_name_fixed();

ALTER TABLE protocol_interfaceversion
    ADD CONSTRAINT protocol_interface_version_dimensions_object CHECK (jsonb_typeof(dimensions) = 'object');
"""

REVERSE_SQL = r"""
ALTER TABLE protocol_interfaceversion DROP CONSTRAINT protocol_interface_version_dimensions_object;
DROP TRIGGER protocol_interface_type_name_fixed ON protocol_interfacetype;
DROP FUNCTION protocol_interface_type_name_fixed();
DROP TRIGGER protocol_interface_version_frozen ON protocol_interfaceversion;
DROP FUNCTION protocol_interface_version_frozen();
"""


class Migration(migrations.Migration):
    dependencies = [("protocol", "0001_interface_registry")]

    operations = [migrations.RunSQL(sql=SQL, reverse_sql=REVERSE_SQL)]
