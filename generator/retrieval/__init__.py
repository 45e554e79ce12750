"""Retrieval: which of the repo's keywords and tests to put in front of a writer.

The keyword inventory (`inventory`, built by `inventory_build`, listed by `listing`); one
component (`rank.Retriever`) ranks keywords for a spec's steps, serving the LLM writer's
prompt, its keyword lookup tool and the offline writer alike; `examples` picks the most similar
test cases; `corpus` holds the suites' cases the suite index parsed. Nothing is imported here:
the suite index reads `corpus` at start, the matcher and the ranking load with the first ticket.
See docs/retrieval.md.
"""
