"""Configuration: the repository's `.jira2robot.yml` (`repo_file.py`: its models, the tests-folder
rule and the Jira key rule) and the run's settings layered from flags › environment › repo file,
validated with every problem named (`settings.py`).
"""
