"""Operator steps: one DFOS tool, one function (headers, status, demo data, ...)."""
