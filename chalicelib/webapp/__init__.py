"""The web app and the API docs page: static files served by the Chalice app itself.

``assets`` loads the app's own ES modules and styles (``static/``) and the vendored libraries
(``vendor/``, refreshed by ``make vendor-web``) into one content-addressed set; ``page``
renders the two HTML pages (``/`` and ``/api/v1/docs``) with their Content-Security-Policy.
functions/rest/webapp.py wires the routes. docs/webapp.md describes the app.
"""
