"""The REST API function (deployed as ``api_handler``, every route under /api/v1 and the web app at
/): one module per group of routes, each a Chalice blueprint app.py registers; ``http.py`` is the
route table (``route()``: validation, roles, the OpenAPI entry) and the request/response helpers.
Each handler is a few lines over a service from ``chalicelib.container.services()``.
"""
