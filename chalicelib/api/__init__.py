"""The REST API's shared pieces: the error envelope, request validation, the OpenAPI document.

``errors.py`` (``ApiError`` and its subclasses: the one JSON error envelope), ``schemas.py``
(the strict base model, ``parse`` for bodies and query strings, and the request models that
have no concept package yet), ``responses.py`` (response models of the same kind),
``openapi.py`` (the document, made from the route table and the models). A concept's own
request/response models live in its package's ``schemas.py`` (``chalicelib.feeds.schemas``,
``chalicelib.stats.schemas``...).
May import: ``chalicelib.domain`` (and ``chalicelib.auth`` for the account models still here);
never a service, the engine or the container.
"""
