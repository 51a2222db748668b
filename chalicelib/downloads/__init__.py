"""Downloads as the REST API sees them: add, list, act on one or many, batches.

``service.py`` (``DownloadService``: the service layer behind the download routes),
``listing.py`` (the list's filters, sort and pagination planned onto an index, for one owner
or, for admins, every owner; pure planning, read through its ``TaskPages`` port), ``bulk.py``
(actions on many at once, retry failed, clear history, reorder), ``batches.py`` (many downloads added in one request and
summarised together), ``admission/`` (adding many in a bounded number of round trips).
``schemas.py`` and ``responses.py`` are the download routes' request and response models.
May import: ``chalicelib.domain``, ``api``, ``persistence``, ``adapters``, ``engine`` (to kick the
dispatcher), ``transfer`` (its ports), ``settings``, ``stats`` (batch summaries), ``activity``,
``metadata`` and ``sidecars`` (naming, NFO work), ``auth.identity``; never
``chalicelib.container`` or a handler.
"""
