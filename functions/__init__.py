"""The Lambda functions' handlers, one package per kind of deployed function; app.py registers
them and the logic they call is in chalicelib.

``rest/`` is the one REST API function (``api_handler``): a module per group of routes, each a
Chalice blueprint, plus ``http.py`` (the route table and request helpers). ``worker/`` is the
work queue's consumer (``work``) and its dead-letter queue's (``dead_letters``). ``queues/`` is
the other SQS consumers (``job_runs``, ``notify_deliveries``). ``streams/`` is the tasks table's
stream consumers (``fanout_changes``, ``aggregate_changes``, ``log_changes``,
``notify_changes``). ``websocket/`` is the WebSocket API (``websocket_connect``,
``websocket_message``, ``websocket_disconnect``). ``timers/`` is the scheduled functions
(``reconcile``, ``job_tick``, ``refresh_feeds``). Every function's memory and timeout are in
.chalice/config.json under the same names.
May import: ``chalicelib`` (services through ``chalicelib.container.services()``) and, inside a
package, its own modules; ``rest/http.py`` is shared by the WebSocket handlers (``LOCAL_OWNER``).
Never imported by chalicelib.
"""
