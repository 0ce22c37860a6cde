"""Settings by environment: `base` holds what all share, `dev`, `test` and `production` adjust it.

Every value an operator may change comes from an environment variable documented in the README.
"""
