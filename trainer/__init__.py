"""Turns random sums into a verified, published addition model.

data.py (questions) -> train.py (fit with checks) -> verify.py (exact-match,
exhaustive) -> report.py (curve) -> publish.py (Hub). `python -m trainer`
is the command line (cli.py).
"""
