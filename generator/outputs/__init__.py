"""What a run leaves for people and for GitLab besides the MR: `report.json` and `junit.xml`
(`report.py`), the job log with one collapsible section per ticket (`logs.py`), and the per-ticket
files under OUTPUT_DIR (`files.py`), all confined and redacted.
"""
