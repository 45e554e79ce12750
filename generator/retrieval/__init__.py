"""Retrieval: which of the repo's keywords and tests to put in front of a writer.

The keyword inventory (`inventory`, built by `inventory_build`, listed by `listing`); one
component (`Retriever`) ranking keywords for a spec's steps, serving the LLM writer's prompt,
its keyword lookup tool and the offline writer alike; `examples` picks the most similar test
cases. See docs/retrieval.md.

`Retriever` is loaded on first use: `validate` and `keywords` need the inventory only, and the
ranking modules would cost their start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from generator.retrieval.rank import Retriever, is_deprecated

__all__ = ["Retriever", "is_deprecated"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from generator.retrieval import rank

        return getattr(rank, name)
    raise AttributeError(f"module 'generator.retrieval' has no attribute {name!r}")
