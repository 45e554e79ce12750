"""How jira2robot authenticates to an MCP server, apart from the client: the configuration checks
the scheme on every command, and importing the client (anyio, httpx) for that would cost each
command's start-up."""

from __future__ import annotations

import base64
import re

AUTH_SCHEMES = ("bearer", "token", "basic")
#: How mcp-atlassian words a refusal by Jira/Confluence itself (the token reached them and was refused).
REFUSED = re.compile(r"\((?:401|403)\)|Unauthorized|Authentication failed|Invalid user \w+ token", re.IGNORECASE)


def auth_headers(scheme: str, token: str | None, user: str | None = None) -> dict[str, str]:
    """The Authorization header mcp-atlassian accepts for each deployment type.

    `bearer` (default): a Server/DC personal access token or an OAuth access token;
    `token`: `Token <PAT>` (Server/DC PAT, never taken for OAuth); `basic`: Jira Cloud,
    `Basic base64(email:api_token)`. No token means no header (the server may still accept
    the request when its operator set ALLOW_GLOBAL_CRED_FALLBACK=true).
    """
    if not token:
        return {}
    if scheme == "basic":
        pair = f"{user or ''}:{token}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    return {"Authorization": f"{'Token' if scheme == 'token' else 'Bearer'} {token}"}
