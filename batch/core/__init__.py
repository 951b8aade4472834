"""The pure core: values, rules and decisions, with no I/O.

Everything here is computed from its arguments: no network, no files, no SQLite, no spreadsheet
library, no event loop. tests/test_purity.py imports every module of this package in a fresh
interpreter and fails if any I/O library was loaded, so the boundary is part of the structure.

May import: the standard library and batch.core only (tests/test_layers.py).
"""
