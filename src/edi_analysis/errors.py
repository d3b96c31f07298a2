"""The exception every command maps to exit status 2 (a usage or input problem).

Its own module so that the runner and the modules under it can raise it without importing
:mod:`edi_analysis.pipeline` (which imports them): imports run one way, pipeline → runner →
executors (``tests/test_imports.py``).
"""


class UsageError(Exception):
    """A problem with the command line or the params file (exit status 2)."""
