"""What a person reads: the report of a run (report.py) and the export's sheet (export_writer.py).

May import: batch.core, batch.durable (the report is written from the journal).
"""
