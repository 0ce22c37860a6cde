"""Shared base pieces every domain app stands on: domain errors, the API error shape and pagination,
request throttling, the periodic-job scheduler, the embedded database and the home page.

Must stay free of any domain's business rules; domain apps depend on it, never the other way round.
"""
