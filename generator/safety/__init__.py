"""What keeps the run's secrets and the repo's code apart from everything else.

`redact.py` is the one redaction of secrets in every encoding (files, MRs, logs, reports);
`sandbox.py` the scrubbed environment of every subprocess that runs the repo's code;
`repo_env.py` the repository's own Python, where its libraries are imported (through
`scan_worker.py`), never in ours. The trust boundary for generated files is enforced inside
Robot Framework by `generator.validate` (`trust.py`, `gate.py`, `grammar.py`).
This folder imports nothing else of the package.
"""
