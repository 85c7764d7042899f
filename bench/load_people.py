"""Who the load test signs in as: shared by bench/load_seed.py (which creates them) and bench/locustfile.py.

Imports nothing of Django: Locust loads it without setting Django up.
"""

import hashlib

PASSWORD = "load-test-password-42"


def partner_email(n: int) -> str:
    return f"load-partner-{n}@load.test"


def agent_email(n: int) -> str:
    return f"load-agent-{n}@load.test"


def agent_totp_key(email: str) -> str:
    """The hex key of an agent's authenticator: derived from the address, so Locust can compute codes."""
    return hashlib.sha1(email.encode()).hexdigest()
