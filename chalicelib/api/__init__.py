"""The REST API's shared pieces: the error envelope, request validation, the OpenAPI document.

``errors.py`` (``ApiError`` and its subclasses: the one JSON error envelope), ``schemas.py``
(the strict base model, ``parse`` for bodies and query strings, field types several concepts
use), ``responses.py`` (the response base model and the error envelope's models),
``openapi.py`` (the document, made from the route table and the models). A concept's own
request/response models live in its package: ``chalicelib.downloads.schemas`` and
``.responses``, ``chalicelib.auth.schemas``, ``chalicelib.engine.schemas`` (queue control),
``chalicelib.feeds.schemas``, ``chalicelib.stats.schemas``...
May import: nothing else in chalicelib; every concept package may import it.
"""
