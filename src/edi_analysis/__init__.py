"""edi-analysis: reproducible reporting for the NHS EDI Improvement Plan and People Plan."""

__version__ = "0.1.0"
