"""Ticket and Confluence page files: the stand-in's data, validated at start-up.

One ticket or page per `*.json`/`*.yaml`/`*.yml` file, in our flat format or as saved
from a real `jira_get_issue` call. A bad file stops the start with its name and problem.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from generator.config.repo_file import KEY_PATTERN

DATA_DIR = Path(__file__).resolve().parents[1] / "demo" / "data"
DEMO_TICKETS_DIR = DATA_DIR / "tickets"
DEMO_PAGES_DIR = DATA_DIR / "confluence"
SAMPLE_REPO_DIR = DATA_DIR / "sample_repo"

TICKET_SUFFIXES = (".json", ".yaml", ".yml")


class TicketStoreError(ValueError):
    """A ticket or page file cannot be served; the message names the file and the problem."""


def _name_of(value: Any) -> Any:
    """Accept both our flat export (`status: To Do`) and mcp-atlassian's output (`status: {name: To Do}`).

    That way a ticket saved from a real `jira_get_issue` call can be dropped in the folder as is.
    """
    if isinstance(value, dict):
        return value.get("name", value.get("display_name", value))
    return value


def _names(value: Any) -> Any:
    return [_name_of(v) for v in value] if isinstance(value, list) else value


def _as_text(value: Any) -> Any:
    """YAML reads `id: 10101` as a number; ids are strings in Jira and Confluence."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


_Name = Annotated[str, BeforeValidator(_name_of)]
_Id = Annotated[str, BeforeValidator(_as_text)]


class _Comment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    author: _Name = "Unknown"
    body: str = Field(min_length=1)


def _comment(value: Any) -> Any:
    return {"body": value} if isinstance(value, str) else value


class _TicketFile(BaseModel):
    """One ticket file. Extra fields are ignored so richer exports still load."""

    model_config = ConfigDict(extra="ignore")

    key: str = Field(pattern=f"^{KEY_PATTERN}$")
    summary: str = Field(min_length=1)
    id: _Id | None = None
    description: str | None = ""
    acceptance_criteria: str | None = None
    status: _Name = "To Do"
    issue_type: _Name = "Story"
    labels: list[str] = Field(default_factory=list)
    components: Annotated[list[str], BeforeValidator(_names)] = Field(default_factory=list)
    comments: list[Annotated[_Comment, BeforeValidator(_comment)]] = Field(default_factory=list)
    url: str = ""

    @model_validator(mode="before")
    @classmethod
    def _from_mcp_atlassian(cls, data: Any) -> Any:
        """A saved `jira_get_issue` answer: `browse_url`, and the criteria in a custom field."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        data.setdefault("url", data.get("browse_url") or "")
        for value in list(data.values()):
            if isinstance(value, dict) and str(value.get("name", "")).lower() == "acceptance criteria":
                data.setdefault("acceptance_criteria", value.get("value"))
        return data


class _PageFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: _Id
    title: str = Field(min_length=1)
    space_key: str = ""
    space_name: str = ""
    url: str = ""
    labels: list[str] = Field(default_factory=list)
    body: str = ""
    author: _Name = "Unknown"
    version: int = 1
    created: str = ""
    updated: str = ""


_M = TypeVar("_M", bound=BaseModel)


def _read_mapping(path: Path) -> dict[str, Any]:
    is_json = path.suffix.lower() == ".json"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TicketStoreError(f"{path}: not UTF-8 text: {exc}") from None
    try:
        data = json.loads(text) if is_json else yaml.load(text, Loader=_YAML_LOADER)
    except (ValueError, yaml.YAMLError) as exc:
        raise TicketStoreError(f"{path}: not valid {'JSON' if is_json else 'YAML'}: {exc}") from None
    if not isinstance(data, dict):
        raise TicketStoreError(f"{path}: expected one object (a mapping of fields), got {type(data).__name__}")
    return data


def _validate(model: type[_M], path: Path, data: dict[str, Any]) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"field '{'.'.join(str(p) for p in e['loc']) or '(root)'}': "
            + ("missing" if e["type"] == "missing" else e["msg"])
            for e in exc.errors()
        )
        raise TicketStoreError(f"{path}: {problems}") from None


def _files(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise TicketStoreError(f"{folder}: {what} folder does not exist")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in TICKET_SUFFIXES)


# libyaml's loader when present: a backlog export of 1,000 files loads in a fraction of the time.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_tickets(folder: Path) -> dict[str, dict]:
    """Read every `*.json`, `*.yaml`, `*.yml` file of `folder` as one ticket, keyed by Jira key.

    Fails on the first bad file rather than skipping it, so a typo in an export is
    seen at start-up instead of as a puzzling "issue does not exist" later.
    """
    tickets: dict[str, dict] = {}
    origin: dict[str, Path] = {}
    for path in _files(folder, "tickets"):
        ticket = _validate(_TicketFile, path, _read_mapping(path))
        if ticket.key in tickets:
            raise TicketStoreError(f"{path}: ticket {ticket.key} is already defined in {origin[ticket.key]}")
        record = ticket.model_dump()
        record["id"] = ticket.id or re.sub(r"\D", "", ticket.key)
        record["description"] = ticket.description or ""
        tickets[ticket.key] = record
        origin[ticket.key] = path
    return tickets


def load_pages(folder: Path | None) -> dict[str, dict]:
    """Read Confluence pages (one per file, same formats as tickets), keyed by page id."""
    if folder is None:
        return {}
    pages: dict[str, dict] = {}
    for path in _files(folder, "pages"):
        page = _validate(_PageFile, path, _read_mapping(path))
        if page.id in pages:
            raise TicketStoreError(f"{path}: page id {page.id} is already used by '{pages[page.id]['title']}'")
        pages[page.id] = page.model_dump()
    return pages
