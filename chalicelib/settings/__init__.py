"""Engine settings: one versioned record in the control table, read by every function through a
short cache (``store.py``: ``EngineSettings``, ``SettingsStore``, the sections the API shows),
and the settings API's models made from the same table (``schemas.py``).
May import: ``chalicelib.domain``, ``persistence``, ``api``; never a service or the container.
"""
