"""An HTTP client library shaped like RequestsLibrary's session keywords (no network: dryrun only)."""


class HttpLibrary:
    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def __init__(self) -> None:
        self.sessions: dict[str, str] = {}

    def create_session(self, alias: str, url: str) -> None:
        """Creates an HTTP session `alias` to `url`."""
        self.sessions[alias] = url

    def get_on_session(self, alias: str, url: str) -> dict:
        """Sends a GET request on the session `alias` and returns the response."""
        return {"url": self.sessions[alias] + url, "status": 200}

    def status_should_be(self, expected_status: str, response: dict) -> None:
        """Fails unless the response has the HTTP status `expected_status`."""
        assert str(response["status"]) == str(expected_status)
