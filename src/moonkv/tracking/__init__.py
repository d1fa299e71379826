"""Client-side caching: which clients may hold which keys, and their invalidation.

A :class:`Tracker` keeps the tracking table (key → ids of the clients that read it
with CLIENT TRACKING on), the BCAST prefixes, and sends invalidation messages
through each client's ``push`` (RESP3 ``invalidate`` pushes, or in RESP2 a message
on ``__redis__:invalidate`` to the client it redirects to).  The engine feeds it the
keys a tracking client read (after the command ran) and the keys each committed unit
changed (the same touched keys that fire WATCH).

Imports: protocol (encoding) only.  Never engine, commands handlers or server.
"""

from moonkv.tracking._tracker import Tracker, TrackingState

__all__ = ["Tracker", "TrackingState"]
