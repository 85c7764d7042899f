"""The ticket lifecycle and its SLA clock: filing, status changes, replies, the stored clock and the sweep."""
