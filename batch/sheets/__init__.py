"""Reading the input: csv through pandas, xlsx through the project's streaming reader.

sheet.py turns a file into a validated core.model.Sheet; xlsx.py streams a workbook's cells
with their number formats (xlsx_parts.py reads which part is which, xlsx_styles.py the formats);
csvsheet.py reads a csv file's rows; zipcheck.py refuses a workbook whose zip would exhaust the
machine.

May import: batch.core (tests/test_layers.py).
"""
