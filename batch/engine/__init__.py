"""Carrying out a command: the one call path, the pace, the pool, one customer's update, the run.

calls.py is the one call path (every request: pacing, the retry table, token renewal,
Retry-After); pacing.py the command's one Pacer (rate and window, made from the options);
pool.py the one pool of workers (run and export) and the run's customers through it, their
outcomes pushed to subscribers (the journal's among them); update.py performs one customer's
update as core/customer_update.py decides it; run.py and export.py drive a command from its
options to its result; nightly.py decides the --incremental night before the pool starts;
rules_cache.py the country rules of a run; interrupt.py the signals.

May import: batch.core, batch.sheets, batch.wire, batch.durable, batch.output; never batch.cli
(nothing here prints) nor the simulator (tests/test_layers.py).
"""
