"""The ledger: every cent on Crowdmaker, as double-entry transactions on accounts, with the database
enforcing balance and append-only history; money arithmetic and splitting; payment gateways.

Depends on no other domain: owners of accounts are named by (kind, id) pairs, never by foreign keys into
other apps.
"""
