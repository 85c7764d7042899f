"""The mapping file: how a source helpdesk's organisations, people, priorities, statuses and fields become ours.

YAML (`.yaml`, `.yml`) or TOML (`.toml`). Every key is optional: the defaults below are those of a
plain Zendesk account and of django-helpdesk's default statuses and priorities. docs/migration.md describes each key.
"""

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

SEVERITIES = ("P1", "P2", "P3", "P4")
STATUSES = ("received", "acknowledged", "in_progress", "waiting_on_partner", "resolved", "closed")
CATEGORIES = ("defect", "configuration", "backend", "how_to", "security", "data_integrity", "other")
ENVIRONMENTS = ("production", "staging", "development")
REFUSE = "refuse"
# How an organisation no partner matches is handled.
UNMATCHED_CHOICES = ("holding", "create", REFUSE)
# The key standing for "no value" in the priority and category maps (Zendesk priority may be null).
NONE = "none"

DEFAULTS: dict[str, Any] = {
    "partners": {
        "organizations": {},  # source organisation name or id → partner slug
        "domains": {},  # e-mail domain → partner slug
        "groups": {},  # source group (queue) name or id → partner slug
        "unmatched": "holding",
        "holding_partner": "Imported tickets without a partner",
        "country": "US",  # of partners the import creates
    },
    "plan": "",  # support plan (name) for partners whose tiers include none
    "agents": {"emails": {}},  # source agent e-mail → our staff member's e-mail
    # Zendesk's priorities, then django-helpdesk's (1 Critical … 5 Very Low).
    "priorities": {
        "urgent": "P1",
        "high": "P2",
        "normal": "P3",
        "low": "P4",
        NONE: "P3",
        "1": "P1",
        "2": "P2",
        "3": "P3",
        "4": "P4",
        "5": "P4",
    },
    "unknown_priority": REFUSE,
    "statuses": {
        "new": "received",
        "open": "in_progress",
        "pending": "waiting_on_partner",
        "hold": "in_progress",
        "solved": "resolved",
        "closed": "closed",
        # django-helpdesk's (its open and closed are Zendesk's words too).
        "reopened": "in_progress",
        "resolved": "resolved",
        "duplicate": "closed",
    },
    "unknown_status": REFUSE,
    # Tickets in these source statuses are not imported (Zendesk's incremental export lists deleted ones).
    "skip_statuses": ["deleted"],
    "categories": {"problem": "defect", "incident": "defect", "question": "how_to", "task": "other", NONE: "other"},
    "fields": {"customer_name": "", "environment": "", "environment_details": "", "business_impact": ""},
    "environments": {},
    "default_environment": "production",
    "comments": {"public": "reply", "private": "note"},
}


class MappingError(Exception):
    """The mapping file cannot be used; the message says why, in one line."""


@dataclass(frozen=True)
class Mapping:
    """A validated mapping: the defaults with the file's keys over them."""

    values: dict[str, Any] = field(default_factory=lambda: json.loads(json.dumps(DEFAULTS)))

    @cached_property
    def fingerprint(self) -> str:
        """Return a digest of the mapping: objects imported under another mapping are updated."""
        return hashlib.sha256(json.dumps(self.values, sort_keys=True).encode()).hexdigest()

    def partner_for_organization(self, org_id: str, name: str) -> str | None:
        return _slug(_lookup(self.values["partners"]["organizations"], org_id, name))

    def partner_for_group(self, group_id: str, name: str) -> str | None:
        return _slug(_lookup(self.values["partners"]["groups"], group_id, name))

    def partner_for_domain(self, domain: str) -> str | None:
        return _slug(_lookup(self.values["partners"]["domains"], domain.lower()))

    @property
    def unmatched(self) -> str:
        return str(self.values["partners"]["unmatched"])

    @property
    def holding_partner(self) -> str:
        return str(self.values["partners"]["holding_partner"])

    @property
    def country(self) -> str:
        return str(self.values["partners"]["country"])

    @property
    def plan(self) -> str:
        return str(self.values["plan"] or "")

    def staff_email(self, email: str) -> str:
        """Return the e-mail of our staff member for a source agent's e-mail."""
        return str(_lookup(self.values["agents"]["emails"], email.lower()) or email).lower()

    def severity(self, priority: str | None) -> str | None:
        """Return our severity for a source priority, or None when the mapping refuses it."""
        found = _lookup(self.values["priorities"], (priority or NONE).lower())
        if found is None and self.values["unknown_priority"] != REFUSE:
            return str(self.values["unknown_priority"])
        return None if found is None else str(found)

    def status(self, source_status: str) -> str | None:
        """Return our status for a source status, or None when the mapping refuses it."""
        found = _lookup(self.values["statuses"], source_status.lower())
        if found is None and self.values["unknown_status"] != REFUSE:
            return str(self.values["unknown_status"])
        return None if found is None else str(found)

    def skips(self, source_status: str) -> bool:
        """Return True for a ticket whose source status says it is not to be imported (deleted there)."""
        return source_status.lower() in {str(status).lower() for status in self.values["skip_statuses"]}

    def category(self, source_type: str | None) -> str:
        categories = self.values["categories"]
        return str(_lookup(categories, (source_type or NONE).lower()) or categories.get(NONE) or "other")

    def field_source(self, name: str) -> str:
        """Return the source ticket field (title or id) our field `name` is read from, or ''."""
        return str(self.values["fields"].get(name) or "")

    def environment(self, value: str | None) -> str:
        if value:
            mapped = _lookup(self.values["environments"], value.lower())
            if mapped:
                return str(mapped)
            if value.lower() in ENVIRONMENTS:
                return value.lower()
        return str(self.values["default_environment"])

    def comment_is_public(self, public: bool) -> bool:
        """Return whether a source comment (public there or not) becomes a public reply here."""
        return bool(self.values["comments"]["public" if public else "private"] == "reply")


def _slug(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _lookup(table: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in table:
            return table[key]
        lowered = {str(k).lower(): v for k, v in table.items()}
        if key.lower() in lowered:
            return lowered[key.lower()]
    return None


def load_mapping(path: Path | None) -> Mapping:
    """Return the mapping of the file at `path` (the defaults when None); raise MappingError saying what is wrong."""
    if path is None:
        return Mapping()
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise MappingError(f"--mapping {path}: cannot read it ({error.strerror}).") from None
    return parse_mapping(raw, f"--mapping {path}", toml=path.suffix.lower() == ".toml")


def parse_mapping(raw: bytes, name: str, *, toml: bool = False) -> Mapping:
    """Return the mapping in `raw` (YAML, or TOML); `name` says where it comes from in messages."""
    kind = "TOML" if toml else "YAML"
    try:
        text = raw.decode("utf-8")
        loaded = tomllib.loads(text) if toml else yaml.safe_load(text)
    except UnicodeDecodeError:
        raise MappingError(f"{name}: not UTF-8 text.") from None
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MappingError(f"{name}: not valid {kind}: {first}") from None
    return Mapping(_merged(loaded or {}, name))


def _merged(loaded: Any, name: str) -> dict[str, Any]:
    if not isinstance(loaded, dict):
        raise MappingError(f"{name}: expected keys such as priorities: and statuses:, found a list or a value.")
    values: dict[str, Any] = json.loads(json.dumps(DEFAULTS))
    for key, value in loaded.items():
        if key not in DEFAULTS:
            raise MappingError(f"{name}: unknown key “{key}” (known: {', '.join(DEFAULTS)}).")
        if isinstance(DEFAULTS[key], dict):
            if not isinstance(value, dict):
                raise MappingError(f"{name}: “{key}” must be a table of keys and values.")
            # The maps of values replace the defaults' entries one by one; the tables of options likewise.
            values[key] = {
                **values[key],
                **{str(k).lower() if key in _LOWERED else str(k): v for k, v in value.items()},
            }
        else:
            values[key] = value
    _validate(values, name)
    return values


_LOWERED = {"priorities", "statuses", "categories", "environments"}


def _validate(values: dict[str, Any], name: str) -> None:
    def refuse(message: str) -> None:
        raise MappingError(f"{name}: {message}")

    for priority, severity in values["priorities"].items():
        if severity not in SEVERITIES:
            refuse(f"priority “{priority}” maps to “{severity}”; severities are {', '.join(SEVERITIES)}.")
    if values["unknown_priority"] not in (REFUSE, *SEVERITIES):
        refuse(f"unknown_priority is “refuse” or one of {', '.join(SEVERITIES)}.")
    for source, status in values["statuses"].items():
        if status not in STATUSES:
            refuse(f"status “{source}” maps to “{status}”; statuses are {', '.join(STATUSES)}.")
    if not isinstance(values["skip_statuses"], list):
        refuse("skip_statuses is a list of source statuses, such as [deleted].")
    if values["unknown_status"] not in (REFUSE, *STATUSES):
        refuse(f"unknown_status is “refuse” or one of {', '.join(STATUSES)}.")
    for source, category in values["categories"].items():
        if category not in CATEGORIES:
            refuse(f"category “{source}” maps to “{category}”; categories are {', '.join(CATEGORIES)}.")
    for source, environment in values["environments"].items():
        if environment not in ENVIRONMENTS:
            refuse(f"environment “{source}” maps to “{environment}”; environments are {', '.join(ENVIRONMENTS)}.")
    if values["default_environment"] not in ENVIRONMENTS:
        refuse(f"default_environment is one of {', '.join(ENVIRONMENTS)}.")
    if values["partners"]["unmatched"] not in UNMATCHED_CHOICES:
        refuse(f"partners.unmatched is one of {', '.join(UNMATCHED_CHOICES)}.")
    for key in ("public", "private"):
        if values["comments"].get(key) not in ("reply", "note"):
            refuse(f"comments.{key} is “reply” or “note”.")
    unknown_fields = set(values["fields"]) - set(DEFAULTS["fields"])
    if unknown_fields:
        refuse(f"fields: unknown field {', '.join(sorted(unknown_fields))} (known: {', '.join(DEFAULTS['fields'])}).")
