"""Running calls at the same moment, each in its own thread and database connection (PostgreSQL tests)."""

import threading

from django.db import connection


def at_once(calls) -> tuple[list, list]:
    """Run every call in its own thread and connection, all released together; return results and errors."""
    start = threading.Barrier(len(calls))
    results, errors = [], []

    def run(call):
        try:
            start.wait()
            results.append(call())
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors
