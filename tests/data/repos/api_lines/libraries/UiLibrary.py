"""A browser library shaped like SeleniumLibrary's basic keywords (no browser: dryrun only)."""


class UiLibrary:
    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def open_browser(self, url: str) -> None:
        """Opens a browser at `url`."""

    def click_link(self, locator: str) -> None:
        """Clicks the link `locator` on the current page."""

    def page_should_contain(self, text: str) -> None:
        """Fails unless the current page shows `text`."""
