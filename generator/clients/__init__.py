"""Clients of the services outside the job: the OpenAI-compatible LLM (`llm/`), MCP servers (`mcp/`),
and the circuit breakers that stop a run from paying a dead endpoint's timeouts per ticket (`breaker.py`).

Each client is a narrow interface the stages call; tests swap the server on 127.0.0.1, never the code.
Clients import only `models` and `safety` (the redaction of what they log and raise).
"""
