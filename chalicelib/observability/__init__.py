"""Observability: JSON logging with request and task ids (``logs.py``) and tracing behind one
small interface, X-Ray in Lambda and nothing outside it (``tracing.py``).
May import: ``chalicelib.domain`` (URL redaction) only; everything else may import this.
"""
