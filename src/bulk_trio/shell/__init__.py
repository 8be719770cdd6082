"""The Trio shell of the client: every module here does I/O or uses trio.

``client`` (``open_bulk_client`` and ``BulkClient``), ``connection`` (connect, replay, receive,
heartbeat, reconnect), ``transport`` (wsproto on a Trio stream), ``fanout`` (per-topic memory
channels), ``requests`` (per-request reply events) and ``state_cell`` (the awaitable connection
state). The protocol rules they carry out live in the sans-IO core one folder up.
"""
