"""Crowdmaker: an open-source crowdmaking platform.

One Django app per domain lives below this package (see ARCHITECTURE.md); `config` holds settings and
URL routing, `cli` the `crowdmaker` console script.
"""
