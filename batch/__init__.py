"""pcbatch: bulk-update Partner Center customer billing profiles from a spreadsheet."""

__version__ = "0.1.0"
