DROP TRIGGER IF EXISTS commons_versionfile_immutable ON commons_versionfile;
DROP FUNCTION IF EXISTS commons_versionfile_immutable();
