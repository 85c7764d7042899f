#!/usr/bin/env python
"""The peer's manage.py: run it with the peer's virtualenv (var/peers/helpdesk-venv/bin/python)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
