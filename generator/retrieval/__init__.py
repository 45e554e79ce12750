"""Retrieval: which of the repo's keywords and tests to put in front of a writer.

One component (`Retriever`) ranks keywords for a spec's steps, serving the LLM writer's prompt,
its keyword lookup tool and the offline writer alike; `examples` picks the most similar test
cases. See docs/retrieval.md.
"""

from generator.retrieval.rank import Retriever, is_deprecated

__all__ = ["Retriever", "is_deprecated"]
