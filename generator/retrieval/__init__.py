"""Retrieval: which of the repo's keywords and tests to put in front of a writer.

The keyword inventory (`inventory`, built by `inventory_build`, listed by `listing`); one
component (`rank.Retriever`) ranks keywords for a spec's steps, serving the LLM writer's
prompt, its keyword lookup tool and the offline writer alike; `examples` picks the most similar
test cases (from the cases the suite index parsed, `generator.gather.corpus`). Nothing is
imported here: the matcher and the ranking load with the first ticket.
See docs/retrieval.md.
"""
