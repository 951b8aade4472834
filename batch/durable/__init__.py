"""What survives the process: the journal, the job state, the run lock, and the one file writer.

files.py (private folders, atomic writes), lock.py (one run per --out), journal.py,
journal_reader.py and journal_schema.py (SQLite: every row, outcome and PUT of a run; its
writes, its reads, its tables), state.py (--state: what the nightly job knows between runs).

May import: batch.core (tests/test_layers.py).
"""
