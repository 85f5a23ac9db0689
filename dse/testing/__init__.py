"""Reusable test helpers: Hypothesis strategies for multiplier graphs and conformance checks.

Importing this package needs ``hypothesis`` (a test dependency), not the library itself.
"""
