"""Typed container values (hash, list, set, sorted set).

Pure data structures: no RESP, no keyspace.  Each class has ``TYPE_NAME``
(the TYPE reply) and ``encoding(config)`` (the OBJECT ENCODING reply).
Strings are stored as plain ``bytes``.
"""
