"""Keyword library next to the suites at the repository root, as in many small RF repos."""

from counter import Counter


class CounterLibrary:
    def __init__(self) -> None:
        self._counter = Counter()
        self._display = "0"

    def press_button(self, button: str) -> None:
        """Presses the given button of the counter."""
        self._display = self._counter.press(button)

    def display_should_be(self, expected: str) -> None:
        """Fails unless the display shows the expected value."""
        if self._display != expected:
            raise AssertionError(f"{self._display} != {expected}")
