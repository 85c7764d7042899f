"""Insight: support metrics, satisfaction ratings and review action items."""
