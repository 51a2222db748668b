"""The local runtime: emulates Lambda's triggers around the unchanged handlers of app.py.

It holds no business logic. ``emulator/`` is the embedded AWS emulator (moto's server and its
patches) unless an endpoint is configured; the modules here are the trigger emulation: the
runtime that starts everything (``runtime.py``, ``__main__.py``), Chalice's local HTTP server
for the REST API (``http_methods.py``), SQS pollers in worker processes that invoke the SQS
handlers as Lambda's event source mapping would (``sqs_poller.py``, ``worker.py``), a timer for
the scheduled handlers (``scheduler.py``), the WebSocket gateway (``ws_gateway.py``,
``realtime.py``), the DynamoDB stream poller (``stream_poller.py``), the Lambda context
(``lambda_context.py``) and orphan-process cleanup (``orphans.py``).
May import: app.py (the handlers it triggers), ``chalicelib.config`` and the container to warm
it, ``emulator/``; chalicelib never imports this package.
"""
