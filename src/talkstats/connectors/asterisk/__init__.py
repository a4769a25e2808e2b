"""Asterisk's queue_log as talkstats events (``talkstats asterisk import|follow``).

- `lines`: a queue_log record from a file line or a realtime table row;
- `mapping`: the mapping file and the `Resolver` (members, queues, DIDs -> ids);
- `presence`: a member's queues and pauses as a talkstats status;
- `parser`: the state machine, lines in and events out (pure: no I/O, no clock);
- `filetail`, `table`: the sources (a file across rotations; a table polled by id);
- `reference`: the account's agents, groups and numbers (store or admin API);
- `runner`: `import` and `follow` through the simulator's sinks.
"""
