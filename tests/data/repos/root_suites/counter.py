"""The system under test: a counter with a display (fixture for jira2robot's layout tests)."""


class Counter:
    def __init__(self) -> None:
        self.value = 0

    def press(self, button: str) -> str:
        if button == "+":
            self.value += 1
        elif button == "C":
            self.value = 0
        else:
            raise ValueError(f"unknown button {button!r}")
        return str(self.value)
