"""Load test of the portal: partners at home, reading and filing tickets; agents on the queue.

Run against gunicorn on 127.0.0.1 with PostgreSQL seeded by bench/load_seed.py; docs/benchmarks.md
has the commands. The user classes `PartnerPerson Agent` run the portal mix (4 partners to 1
agent); `Ping` runs only GET /ping (no database): the framework's ceiling on the same server.
"""

import itertools
import re
from binascii import unhexlify

from django_otp.oath import totp
from load_people import PASSWORD, agent_email, agent_totp_key, partner_email
from locust import HttpUser, constant, task

PARTNERS = itertools.count(1)
AGENTS = itertools.count(1)
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class SignedIn(HttpUser):
    abstract = True
    wait_time = constant(0)  # closed loop: each user sends its next request as soon as one returns

    def sign_in(self, email):
        page = self.client.get("/accounts/login/", name="sign in (page)")
        token = CSRF_INPUT.search(page.text).group(1)
        answer = self.client.post(
            "/accounts/login/",
            {"username": email, "password": PASSWORD, "csrfmiddlewaretoken": token},
            name="sign in",
            allow_redirects=False,
        )
        if answer.status_code != 302:
            raise RuntimeError(f"{email} could not sign in: {answer.status_code}")

    def second_factor(self, email):
        page = self.client.get("/two-factor/verify/", name="sign in (second factor page)")
        token = CSRF_INPUT.search(page.text).group(1)
        code = f"{totp(unhexlify(agent_totp_key(email))):06d}"
        answer = self.client.post(
            "/two-factor/verify/",
            {"code": code, "csrfmiddlewaretoken": token},
            name="sign in (second factor)",
            allow_redirects=False,
        )
        if answer.status_code != 302:
            raise RuntimeError(f"{email} could not pass the second factor: {answer.status_code}")


class PartnerPerson(SignedIn):
    weight = 4

    def on_start(self):
        self.sign_in(partner_email(next(PARTNERS)))

    @task(3)
    def home(self):
        self.client.get("/", name="partner home")

    @task(3)
    def ticket_list(self):
        self.client.get("/tickets/", name="ticket list")

    @task(1)
    def file_ticket(self):
        form = self.client.get("/tickets/new/", name="new ticket (form)")
        token = CSRF_INPUT.search(form.text).group(1)
        with self.client.post(
            "/tickets/new/",
            {
                "csrfmiddlewaretoken": token,
                "title": "Checkout returns 500 under load",
                "severity": "P3",
                "category": "defect",
                "customer_name": "Acme Retail GmbH",
                "environment": "production",
                "steps_to_reproduce": "Pay with an EU card.",
                "business_impact": "Some orders fail.",
            },
            name="file ticket",
            allow_redirects=False,
            catch_response=True,
        ) as answer:
            if answer.status_code != 302:
                answer.failure(f"ticket not filed: {answer.status_code}")


class Agent(SignedIn):
    weight = 1

    def on_start(self):
        email = agent_email(next(AGENTS))
        self.sign_in(email)
        self.second_factor(email)

    @task
    def queue(self):
        self.client.get("/queue/", name="staff queue")


class Ping(HttpUser):
    wait_time = constant(0)

    @task
    def ping(self):
        self.client.get("/ping", name="ping (trivial view)")
