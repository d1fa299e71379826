"""Pub/Sub: who listens to which channel, and the delivery of messages to them.

The :class:`Hub` holds the server's subscriptions (channels, patterns and
shard channels) and delivers published messages, encoded once per RESP
version, through each subscriber's ``push`` (the per-client out-of-band
seam that the network layer sets).  Keyspace notifications publish through
the same hub.

A message published while a script runs is held by the hub and delivered
when the script commits; a rolled-back script's messages are dropped with
its undo log (see ``Hub.publish``).

Imports: protocol (encoding), keyspace (the undo log), commands._util (the
glob matcher KEYS uses).  Never engine, commands handlers or server.
"""

from moonkv.pubsub._hub import Hub, Subscriber, Subscriptions

__all__ = ["Hub", "Subscriber", "Subscriptions"]
