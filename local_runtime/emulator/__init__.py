"""The embedded AWS emulator: moto's server, patched to cost what the services cost, and its
state kept in a data directory. Apart from the trigger emulation (the rest of local_runtime/).

``server.py`` starts it (``start_emulator``) and applies the patches, fenced to the moto and
werkzeug versions they were written for (``PATCHED_FOR``); ``s3.py`` (CompleteMultipartUpload in
one pass), ``wsgi.py`` (a request body read in one call), ``streams.py`` (DynamoDB streams),
``expressions.py`` (parsed expressions cached), ``state.py`` (the DynamoDB journal and
snapshots), ``files.py`` (objects and parts as files), ``datadir.py`` (the data directory).
May import: moto, werkzeug, its own modules and ``local_runtime.orphans``; never chalicelib,
functions or app.py.
"""
