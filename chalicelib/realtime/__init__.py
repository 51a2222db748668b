"""Real-time: the WebSocket protocol, its connection store and the change fan-out.

``messages`` is pure (no I/O): every message either direction is built or parsed there.
``connections`` keeps connections and their room subscriptions and ``queries`` reads rooms,
both through ``ports`` (what the side needs from storage; the DynamoDB implementations are in
chalicelib/persistence/); ``publisher`` posts to connections through API Gateway's management
API, ``fanout`` turns task changes from the tasks table's stream into messages, ``session``
answers what clients send, and ``wiring`` builds them from the stores the composition root
passes in.
"""
