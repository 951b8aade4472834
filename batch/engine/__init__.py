"""Carrying out a command: the one call path, the pace, the pool, one customer's update, the run.

run.py and export.py drive a command from its options to its result; nightly.py the
--incremental night; pool.py the workers; update.py performs one customer's update as
core decides it; pacing.py the shared rate and window; rules_cache.py the country rules of a
run; interrupt.py the signals.

May import: batch.core, batch.sheets, batch.wire, batch.durable, batch.output; never batch.cli
(nothing here prints) nor the simulator (tests/test_layers.py).
"""
