"""`python -m generator` is the `jira2robot` command."""

import sys

from generator.cli import main

sys.exit(main())
