"""Webhooks to partners' systems: endpoints (endpoints.py), the outbox events are written to in the
transaction of their change (outbox.py), and the worker that delivers them (delivery.py).

Signing and the guarded HTTP client are infrastructure: `partnerportal.webhooks`.
"""
