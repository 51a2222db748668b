"""The local runtime: emulates Lambda's triggers around the unchanged handlers of app.py.

It holds no business logic: an embedded AWS emulator (moto's server) unless an endpoint is
configured, Chalice's local HTTP server for the REST API, SQS pollers in worker processes
that invoke the SQS handlers as Lambda's event source mapping would, and a timer for the
scheduled handlers.
"""
