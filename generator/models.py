"""Typed objects passed between the stages (gather → plan → write → validate → publish).

Every stage takes and returns these, never loose dicts, so that a stage can be
tested with a hand-built input and the report can be written from a partial run.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# --------------------------------------------------------------------------- gather


class _Model(BaseModel):
    """Every model here: the schema is built on first use, not at import, so a command pays only
    for the models it touches (`validate` needs two of the twenty)."""

    model_config = ConfigDict(defer_build=True)


class Ticket(_Model):
    """A Jira issue reduced to what test generation needs (tolerant of several MCP server shapes)."""

    key: str
    summary: str
    description: str = ""
    acceptance_criteria: list[str] = Field(
        default_factory=list, description="One entry per criterion line (Given/When/Then, bullet, number)."
    )
    components: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    comments: list[str] = Field(default_factory=list)
    status: str = ""
    resolution: str = ""
    issue_type: str = ""
    url: str = ""


class ConfluencePage(_Model):
    page_id: str
    title: str
    space_key: str = ""
    url: str = ""
    body: str = ""


class Keyword(_Model):
    """One user keyword or library keyword the writer may call."""

    name: str
    args: list[str] = Field(default_factory=list)
    doc: str = ""
    owner: str = Field(description="Resource file (repo-relative path) or library name that defines it.")
    owner_kind: Literal["resource", "library"] = "resource"
    embedded: bool = False
    tags: list[str] = Field(default_factory=list)
    calls: list[str] = Field(
        default_factory=list,
        description="User keywords only: names of the keywords its body calls, as written (whitespace collapsed).",
    )


class KeywordInventory(_Model):
    """The repo's keywords plus the imports its suites already use (the import allow-list)."""

    keywords: list[Keyword] = Field(default_factory=list)
    libraries: list[str] = Field(default_factory=list, description="Library names/paths imported by the repo.")
    resources: list[str] = Field(
        default_factory=list, description="Resource files (repo-relative) imported or present."
    )
    variables: list[str] = Field(default_factory=list, description="Variable files imported by the repo.")
    variable_names: list[str] = Field(
        default_factory=list,
        description="Names (never values) of the variables its variable files and resource files define: "
        "`${NAME}`, `@{LIST}`, `&{DICT}`.",
    )
    errors: list[str] = Field(default_factory=list, description="Files libdoc could not read, with the reason.")
    suite_keywords: list[Keyword] = Field(
        default_factory=list,
        description="Keywords of suite files (files with tests): never importable, examples to copy.",
    )
    suite_variables: dict[str, list[str]] = Field(
        default_factory=dict, description="Suite file -> names of its own `*** Variables ***` (local to it)."
    )
    importers: dict[str, list[str]] = Field(
        default_factory=dict, description="`KIND:entry` of the allow-list -> repo files importing it."
    )

    import_arguments: dict[str, list[list[str]]] = Field(
        default_factory=dict,
        description="`KIND:entry` of the allow-list -> the argument lists the repo's files give it, as written.",
    )

    def library_arguments(self) -> dict[str, list[list[str]]]:
        """Allow-listed library -> the argument lists the repo imports it with (BuiltIn: none)."""
        found = {k.removeprefix("LIBRARY:"): v for k, v in self.import_arguments.items() if k.startswith("LIBRARY:")}
        return {name: found.get(name, [[]]) for name in self.libraries}

    def imported_resources(self) -> list[str]:
        """The resources some file of the repo imports: the allow-list (a resource merely present
        in the repo is not one its suites use)."""
        return [r for r in self.resources if f"RESOURCE:{r}" in self.importers]


class ExampleTest(_Model):
    path: str
    text: str
    score: float = 0.0


class Conventions(_Model):
    """How generated tests are written (see generator/plan/conventions.py: defaults < convention doc < config)."""

    incomplete: Literal["skip", "fail"] = Field(
        "skip", description="How a test with a missing step ends: `Skip` (default) or `Fail`, never a pass."
    )
    name_max_words: int = Field(8, ge=2, le=30)
    slug_max_words: int = Field(5, ge=1, le=20)
    key_case: Literal["lower", "upper", "as-is"] = "lower"
    file_separator: str = Field("_", pattern=r"^[-_]$")
    missing_marker: str = Field("# MISSING KEYWORD: ", pattern=r"^#")
    incomplete_tags: list[str] = Field(default_factory=lambda: ["jira2robot:incomplete"])
    line_length: int = Field(120, ge=60, le=400)
    tags_per_test: bool = Field(
        False, description="Every test carries its own `[Tags]` (the convention shows one): no suite `Test Tags`."
    )
    doc_one_line: bool = Field(
        False, description="A test's `[Documentation]` is one line, as every documented test of the repo has it."
    )


class RepoContext(_Model):
    """What is known about the test repository, built once per run and shared by every ticket."""

    root: str
    tests_dir: str
    convention_path: str
    convention: str | None = None
    inventory: KeywordInventory
    folders: list[str] = Field(default_factory=list, description="Folders under tests_dir that hold suites.")
    conventions: Conventions = Field(default_factory=Conventions)
    common_resource: str | None = Field(
        None, description="The resource the repo's suites import most (repo-relative), given to every writer prompt."
    )


class TicketContext(_Model):
    """Everything gathered for one ticket before any LLM call."""

    ticket: Ticket
    pages: list[ConfluencePage] = Field(default_factory=list)
    repo: RepoContext
    examples: list[ExampleTest] = Field(default_factory=list)
    similar_suites: list[ExampleTest] = Field(
        default_factory=list, description="Whole suites most like the ticket, best first: where its test goes."
    )


# --------------------------------------------------------------------------- plan (the spec JSON)


class _Open(_Model):
    """Spec objects tolerate extra fields from the planner but validate the ones we use."""

    model_config = ConfigDict(extra="allow")


class SpecMeta(_Open):
    jira_key: str
    title: str


class SpecSource(_Open):
    page_id: str
    title: str
    space_key: str = ""


class SpecConfluence(_Open):
    sources: list[SpecSource] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)


class SpecTestCase(_Open):
    name: str = Field(min_length=1)
    covers: list[str] = Field(default_factory=list, description="Acceptance criteria this case verifies.")
    tags: list[str] = Field(default_factory=list)
    steps: list[str] = Field(min_length=1, description="Given/When/Then intentions, one per step.")


class SpecRF(_Open):
    target_path: str = Field(min_length=1)
    suite_doc: str = ""
    force_tags: list[str] = Field(default_factory=list)
    test_cases: list[SpecTestCase] = Field(min_length=1)


class WriterConstraints(_Open):
    must_read_files: list[str] = Field(default_factory=lambda: ["doc/convention.md"])


class TestSpec(_Open):
    """The planner's output; keeps the seed's fields."""

    __test__ = False  # not a pytest class

    meta: SpecMeta
    confluence: SpecConfluence = Field(default_factory=SpecConfluence)
    rf: SpecRF
    writer_constraints: WriterConstraints = Field(default_factory=WriterConstraints)


# --------------------------------------------------------------------------- write / validate

DiagnosticSource = Literal["parse", "path", "import", "trust", "dryrun", "environment", "lint", "writer", "secret"]


class Diagnostic(_Model):
    severity: Literal["error", "warning", "info"] = "error"
    message: str
    line: int | None = None
    keyword: str | None = None
    source: DiagnosticSource = "dryrun"


class ValidationResult(_Model):
    ok: bool
    diagnostics: list[Diagnostic] = Field(default_factory=list)
    environment_error: bool = Field(
        default=False, description="The repo itself cannot load (missing library): not the writer's fault."
    )


class StepMapping(_Model):
    """How one spec step became a line of Robot code (offline writer and keyword lookup tool)."""

    step: str
    keyword: str | None = None
    args: list[str] = Field(default_factory=list)
    score: float = 0.0
    how: Literal["exact", "embedded", "similar", "placeholder"] = "placeholder"


class GeneratedTest(_Model):
    """The writer's output for one ticket."""

    __test__ = False

    target_path: str = Field(description="Repo-relative, inside the tests folder.")
    text: str
    mappings: list[StepMapping] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)
    steps_missing: int = Field(0, description="Steps written as a missing-keyword marker, counted in the file.")
    incomplete_tests: int = Field(0, description="Test cases that end in Skip/Fail because a step is missing.")
    tests: int = Field(0, description="Test cases in the file.")


# --------------------------------------------------------------------------- report


class LLMUsage(_Model):
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: LLMUsage) -> None:
        self.calls += other.calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


TicketStatus = Literal["created", "updated", "skipped", "failed", "interrupted", "drifted"]


class CriterionChange(_Model):
    old: str
    new: str


class CriteriaDrift(_Model):
    """How a covered ticket's acceptance criteria moved since its test was written (report field `drift`)."""

    state: Literal["unchanged", "baseline", "drifted", "orphaned"]
    test_path: str = Field(description="The covering suite (repo-relative).")
    edited: list[CriterionChange] = Field(default_factory=list)
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    tests_rewritten: list[str] = Field(default_factory=list, description="Test cases replaced by new ones.")
    tests_removed: list[str] = Field(default_factory=list, description="Test cases whose criteria are all gone.")
    tests_kept: list[str] = Field(
        default_factory=list, description="Test cases of changed criteria left as they are: a person edited them."
    )
    baseline: dict[str, str] = Field(
        default_factory=dict, description="Fingerprint → criterion: what a suite without provenance is compared to."
    )


class TicketResult(_Model):
    """One entry of report.json (field names are part of the public contract)."""

    key: str
    status: TicketStatus
    reason: str = ""
    test_path: str | None = None
    spec_path: str | None = None
    mr_url: str | None = None
    attempts: int = 0
    diagnostics: list[Diagnostic] = Field(default_factory=list)
    llm: LLMUsage = Field(default_factory=LLMUsage)
    seconds: float = 0.0
    steps_total: int = 0
    steps_mapped: int = 0
    open_questions: list[str] = Field(default_factory=list)
    keywords_used: list[str] = Field(default_factory=list)
    shard: int | None = None
    conventions: str = Field(
        "", description="Where the writer's conventions came from: the document's path, or 'derived from N suites ...'."
    )
    complete: bool = Field(False, description="Every step of every test is mapped and implemented.")
    tests_total: int = 0
    tests_incomplete: int = 0
    lint_issues: int | None = Field(None, description="robocop issues left in the generated file.")
    steps_guessed_arguments: int = Field(
        0, description="Test steps passing an argument neither the ticket nor an example holds (target 0)."
    )
    truncated: list[str] = Field(
        default_factory=list, description="Ticket/page fields cut before the prompt, with their sizes."
    )
    drift: CriteriaDrift | None = Field(None, description="A covered ticket's criteria against its test's.")
