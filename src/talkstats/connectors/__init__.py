"""Connectors: read what a telephony platform records and turn it into talkstats events.

Each connector is a pure parser (records in, events out), sources that read the
platform's records, and the simulator's sinks (a store in-process, or a server).
"""
