"""Pure rules, no Django: business time, SLA clocks and thresholds, escalation steps, on-call rotations, time zones."""
