"""Commons: designs, their immutable versions, licences, remix lineage and citations, and the catalog.

Depends on `people` (owners) and `protocol` (manifest validation); nothing depends on it yet.
"""
