"""A healthy repo library next to the sleeping one: the scan must still list it."""


def quick_keyword() -> None:
    """Does nothing, quickly."""
