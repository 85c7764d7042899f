"""Escalation: the one function that escalates, staff and partner requests, and routing to who is on call."""
