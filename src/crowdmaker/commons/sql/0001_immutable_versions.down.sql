DROP TRIGGER IF EXISTS commons_designversion_immutable ON commons_designversion;
DROP FUNCTION IF EXISTS commons_designversion_immutable();
