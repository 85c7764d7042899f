"""Demo data: plans, calendars, on-call desk, escalation policies, tickets in every state, and twelve weeks of history."""
