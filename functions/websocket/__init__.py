"""The WebSocket API's functions (deployed as ``websocket_connect``, ``websocket_message``,
``websocket_disconnect``): ``handlers.py``; the protocol itself is chalicelib/realtime/.
"""
