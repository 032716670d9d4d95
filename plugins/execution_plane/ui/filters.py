"""The list's filters, read from a query string (the page's form, the JSON and CSV routes share them).

Bad input is refused with the field it concerns (``FilterError``): the routes answer 422
``{"error": "invalid_request", "message", "field"}``, the page shows the message above the form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from execution_plane.saga.keys import DAG_ID_PATTERN
from execution_plane.ui.states import ENDED, STATUS_FILTERS, WAITING

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
DEFAULT_OVERDUE_AFTER_HOURS = 48.0  # the dashboard's rule (include.services.dashboard)
# A name a workflow waits on: an approver (an Airflow user name) or an outside event's family ("partner").
WAITING_ON_PATTERN = r"^[A-Za-z0-9_.@:+-]{1,100}$"
ORDERS = ("newest", "oldest", "updated")
MULTI = ("type", "status")  # fields that may repeat in the query string

StatusFilter = Literal[STATUS_FILTERS]  # type: ignore[valid-type]


class FilterError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ListFilters(BaseModel):
    """Which workflows, and which page of them."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: tuple[Annotated[str, Field(pattern=DAG_ID_PATTERN)], ...] = ()
    status: tuple[StatusFilter, ...] = ()
    waiting_on: Annotated[str, Field(pattern=WAITING_ON_PATTERN)] | None = None
    overdue: bool = False
    overdue_after_hours: Annotated[float, Field(gt=0, le=24 * 365)] = DEFAULT_OVERDUE_AFTER_HOURS
    started_from: date | None = None
    started_to: date | None = None
    q: Annotated[str, Field(max_length=100)] | None = None
    order: Literal["newest", "oldest", "updated"] = "newest"
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    page_size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE

    @field_validator("q")
    @classmethod
    def _search(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if value and any(ord(c) < 32 for c in value):
            raise ValueError("control characters are not allowed")
        return value or None

    @model_validator(mode="after")
    def _range(self) -> ListFilters:
        if self.started_from and self.started_to and self.started_to < self.started_from:
            raise FilterError("started_to", "must not be before started_from")
        return self

    # --------------------------------------------------------------------- what the queries need
    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def search_pattern(self) -> str | None:
        """An ILIKE pattern finding ``q`` anywhere in a business key (its own wildcards escaped)."""
        if self.q is None:
            return None
        escaped = self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"%{escaped}%"

    def started_between(self) -> tuple[datetime | None, datetime | None]:
        """[from, to) in UTC: whole days, the end day included."""
        start = datetime.combine(self.started_from, time(), UTC) if self.started_from else None
        end = datetime.combine(self.started_to + timedelta(days=1), time(), UTC) if self.started_to else None
        return start, end

    def ended_states(self) -> list[str]:
        return [s for s in self.status if s in ENDED]

    def wants(self, state: str) -> bool:
        """Whether a running workflow in ``state`` (running or one of the waits) passes the status filter."""
        if not self.status:
            return True
        return state in self.status or (state in WAITING.values() and "waiting" in self.status)

    def query(self, **changes: object) -> list[tuple[str, str]]:
        """These filters (with ``changes``) as query-string pairs, defaults left out: links keep them."""
        values = self.model_dump() | changes
        pairs: list[tuple[str, str]] = []
        for name, field in type(self).model_fields.items():
            value = values[name]
            if value in (None, (), []) or value == field.default:
                continue
            for item in value if name in MULTI else (value,):
                pairs.append((name, "true" if item is True else str(item)))
        return pairs


def parse(params: Mapping[str, str] | Sequence[tuple[str, str]]) -> ListFilters:
    """Filters from query-string pairs; an empty value is no value (what an untouched form field sends)."""
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    raw: dict[str, str | list[str]] = {}
    for name, value in pairs:
        if value == "":
            continue
        if name in MULTI:
            listed = raw.setdefault(name, [])
            assert isinstance(listed, list)
            listed.append(value)
        else:
            raw[name] = value
    try:
        return ListFilters.model_validate(raw)
    except FilterError:
        raise
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first.get("loc", ())
        field = str(loc[0]) if loc else "query"
        if isinstance(first.get("ctx", {}).get("error"), FilterError):
            error = first["ctx"]["error"]
            raise FilterError(error.field, error.message) from None
        raise FilterError(field, str(first.get("msg", "invalid value"))) from None
