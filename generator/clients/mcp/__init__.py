"""The MCP client (`client.py`: streamable HTTP, one connection per server and run), its
authentication headers (`auth.py`) and the tool names the repo file may change (`tools.py`).
"""
