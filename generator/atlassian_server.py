"""The embedded Atlassian stand-in's old import path (it now lives in `generator.standin`).

python -m generator.atlassian_server --tickets my-tickets/ --pages my-pages/ --port 9000
"""

from generator.standin.files import (
    DATA_DIR,
    DEMO_PAGES_DIR,
    DEMO_TICKETS_DIR,
    SAMPLE_REPO_DIR,
    TicketStoreError,
    load_pages,
    load_tickets,
)
from generator.standin.jql import run_jql
from generator.standin.server import ServedAtlassian, build_server, main
from generator.standin.shapes import search_pages, simplify_issue

__all__ = [
    "DATA_DIR",
    "DEMO_PAGES_DIR",
    "DEMO_TICKETS_DIR",
    "SAMPLE_REPO_DIR",
    "ServedAtlassian",
    "TicketStoreError",
    "build_server",
    "load_pages",
    "load_tickets",
    "main",
    "run_jql",
    "search_pages",
    "simplify_issue",
]

if __name__ == "__main__":
    main()
