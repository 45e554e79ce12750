"""A repo library whose import never finishes (e.g. it waits for a service that is down)."""

import time

time.sleep(600)


def never_listed() -> None:
    """The scan cannot see this keyword: the import above does not return."""
