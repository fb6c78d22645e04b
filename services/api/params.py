"""Path and query parameters several route modules share, with the bounds that keep them valid."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator

from schemas.times import within_range


def _in_range(value: datetime | date | None) -> datetime | date | None:
    return None if value is None else within_range(value)


AGREEMENT_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
AgreementId = Path(pattern=AGREEMENT_ID_PATTERN, description="The agreement's id")
Version = Path(ge=1, le=2**31 - 1, description="The version number")
WindowStart = Annotated[
    datetime | date | None,
    AfterValidator(_in_range),
    Query(alias="from", description="Start (UTC date or time); default: the goal period's"),
]
WindowEnd = Annotated[
    datetime | date | None, AfterValidator(_in_range), Query(alias="to", description="End, exclusive (UTC)")
]
