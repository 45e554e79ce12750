"""The OpenAI-compatible LLM client: the conversation and tool loop (`client.py`), the request fields
each model and server accepts (`request.py`), the SSE stream (`stream.py`), error bodies of every
shape (`errors.py`), retries and the shared backoff (`retry.py`), the cleaning of model output
(`text.py`), and the token and text budgets every model call is charged to (`budget.py`).
"""
