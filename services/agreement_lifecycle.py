"""The agreement lifecycle: drafts, activation (exactly one active version per id), retirement.

Versions live in ``agreement_versions`` with their YAML source. A draft may be stored while it
still has problems (work in progress); only a version that compiles and passes its embedded test
cases can be activated, and it is checked again at activation. Activating retires the previously
active version in the same transaction; the service's ingest path reads the active version at the
start of every batch (``ActiveAgreement``), so every replica switches at one commit. Leads and
clocks in flight keep what they have: their stage never moves back, and open clocks keep their due
times, queue and the version that started them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from router.agreement import CompiledAgreement
from schemas.events import AGREEMENT_ACTIVATED
from schemas.problems import FieldError
from services.agreements import (
    AgreementCheck,
    AgreementError,
    AgreementProblem,
    check_agreement,
    parse_agreement,
    read_header,
)
from services.db import agreement_versions as store
from services.db import rep_load
from services.db import repositories as repo
from services.db.uow import UnitOfWork
from services.errors import DomainError
from services.events import outbox_row
from services.settings import Settings

log = structlog.get_logger(__name__)
Row = dict[str, Any]
_VALID_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")  # schemas.agreement.RuleId
_MAX_VERSION = 2**31 - 1


def digest(text: str) -> str:
    """The SHA-256 of an agreement's source text (two stored versions with one number must match it)."""
    return hashlib.sha256(text.encode()).hexdigest()


def roster_of(agreement: CompiledAgreement) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """The queues and reps an agreement defines, as ``repo.sync_roster`` takes them."""
    return {q.id: (q.description, [(r.id, r.name) for r in q.reps]) for q in agreement.document.queues}


def problem_errors(check: AgreementCheck) -> list[FieldError]:
    """An agreement's problems as the ``errors`` of a problem+json body (with line and column)."""
    return [
        FieldError(field=p.field, message=p.message, code=p.code, line=p.line, column=p.column)
        for p in check.problems
    ]


def _invalid(detail: str, check: AgreementCheck) -> DomainError:
    return DomainError(422, "agreement-invalid", "Invalid agreement", detail, errors=problem_errors(check))


def _not_found(agreement_id: str, version: int | None = None) -> DomainError:
    what = (
        f"agreement {agreement_id} version {version}" if version is not None else f"agreement {agreement_id}"
    )
    return DomainError(404, "agreement-not-found", "Agreement not found", f"no {what}")


async def _locked(conn: AsyncConnection, agreement_id: str, version: int) -> tuple[dict[int, Row], Row]:
    """Every version of the agreement (locked), and the one asked for (404 if there is none)."""
    versions = await store.lock_versions(conn, agreement_id)
    target = versions.get(version)
    if target is None:
        raise _not_found(agreement_id, version)
    return versions, target


class AgreementLifecycle:
    """Create, list, show, diff, activate and retire agreement versions (one transaction each).

    ``running_id`` is the agreement this service routes with: its active version cannot be retired
    (activate another version instead), and activating one of its versions updates the queues and
    reps tables in the same transaction.
    """

    def __init__(
        self, uow: UnitOfWork, settings: Settings, running_id: str, now: Callable[[], datetime]
    ) -> None:
        self.uow = uow
        self.settings = settings
        self.running_id = running_id
        self.now = now

    # --- drafts ---------------------------------------------------------------------------------

    async def create_draft(self, text: str) -> tuple[Row, bool]:
        """Store ``text`` as a draft; returns the stored version and whether it is new.

        The text must at least name its ``id`` and ``version``; other problems are stored with the
        draft. The same id and version again with the same text is a no-op; with another text, 409.
        """
        check = check_agreement(text, "body")
        header = read_header(text)
        if header is None:
            raise _invalid("an agreement needs at least an 'id' and an integer 'version'", check)
        agreement_id, version = header
        if not _VALID_ID.fullmatch(agreement_id) or not 1 <= version <= _MAX_VERSION:
            raise _invalid(
                f"'{agreement_id}' version {version} is not a valid agreement id and version", check
            )
        now = self.now()
        title = check.agreement.document.title if check.agreement is not None else ""
        row = {
            "agreement_id": agreement_id, "version": version, "status": "draft", "title": title[:300],
            "source": text, "digest": digest(text), "valid": check.valid,
            "problems": [p.model_dump() for p in problem_errors(check)],
            "created_at": now, "activated_at": None, "retired_at": None,
        }  # fmt: skip
        try:
            async with self.uow.transaction() as conn:
                existing = await store.get_version(conn, agreement_id, version)
                if existing is None:
                    await store.insert_version(conn, row)
        except IntegrityError:  # stored by a concurrent request a moment ago: compare with that one
            async with self.uow.read() as conn:
                existing = await store.get_version(conn, agreement_id, version)
            if existing is None:
                raise
        if existing is None:
            return row, True
        if existing["digest"] != row["digest"]:
            raise DomainError(
                409, "agreement-version-exists", "Version already exists",
                f"agreement {agreement_id} version {version} is stored with a different text; "
                "give the new text a new version number",
            )  # fmt: skip
        return existing, False

    # --- reads ----------------------------------------------------------------------------------

    async def list(self, agreement_id: str | None = None) -> list[Row]:
        """Every stored version (without source), by agreement id and version."""
        async with self.uow.read() as conn:
            return await store.list_versions(conn, agreement_id)

    async def show(self, agreement_id: str, version: int) -> tuple[Row, CompiledAgreement | None]:
        """One version with its source, and its compiled form when it compiles."""
        row = await self._stored(agreement_id, version)
        try:
            return row, parse_agreement(row["source"], f"{agreement_id}@{version}")
        except AgreementError:
            return row, None

    async def compiled(self, agreement_id: str, version: int) -> CompiledAgreement:
        """A stored version, compiled (422 with its problems if it does not compile)."""
        row = await self._stored(agreement_id, version)
        try:
            return parse_agreement(row["source"], f"{agreement_id}@{version}")
        except AgreementError as error:
            detail = f"agreement {agreement_id} version {version} does not compile"
            raise _invalid(detail, AgreementCheck(None, error.problems)) from None

    async def _stored(self, agreement_id: str, version: int) -> Row:
        async with self.uow.read() as conn:
            row = await store.get_version(conn, agreement_id, version)
        if row is None:
            raise _not_found(agreement_id, version)
        return row

    # --- activation and retirement --------------------------------------------------------------

    async def activate(self, agreement_id: str, version: int) -> Row:
        """Make ``version`` the one active version (retiring the previous one); 422 unless it is valid."""
        async with self.uow.transaction() as conn:
            versions, target = await _locked(conn, agreement_id, version)
            if target["status"] == "active":
                return target
            check = check_agreement(target["source"], f"{agreement_id}@{version}")
            if not check.valid or check.agreement is None:
                raise _invalid(
                    f"agreement {agreement_id} version {version} cannot be activated: it has "
                    f"{len(check.problems)} problem(s)", check,
                )  # fmt: skip
            return await self._switch(conn, versions, target, check.agreement)

    async def _switch(
        self, conn: AsyncConnection, versions: dict[int, Row], target: Row, agreement: CompiledAgreement
    ) -> Row:
        now = self.now()
        agreement_id, version = target["agreement_id"], target["version"]
        previous = next((row for row in versions.values() if row["status"] == "active"), None)
        if previous is not None:
            await store.set_status(conn, agreement_id, previous["version"], "retired", now)
        await store.set_status(conn, agreement_id, version, "active", now)
        if agreement_id == self.running_id:
            await rep_load.sync_roster(conn, roster_of(agreement), now)
        data = {
            "agreement_id": agreement_id, "version": version, "agreement_version": agreement.version,
            "previous_version": previous["version"] if previous is not None else None,
            "activated_at": now.isoformat(),
        }  # fmt: skip
        await repo.insert_outbox(
            conn,
            [
                outbox_row(
                    topic=self.settings.topic_lifecycle, event_type=AGREEMENT_ACTIVATED,
                    cause=f"agreement:{agreement.version}:{now.isoformat()}", subject=agreement_id,
                    data=data, at=now,
                )
            ],
        )  # fmt: skip
        log.info("agreement.activated", agreement=agreement.version, previous=data["previous_version"])
        return {**target, "status": "active", "activated_at": now, "retired_at": None}

    async def retire(self, agreement_id: str, version: int) -> Row:
        """Retire a draft or an active version (409 for the active version this service runs on)."""
        async with self.uow.transaction() as conn:
            _versions, target = await _locked(conn, agreement_id, version)
            if target["status"] == "retired":
                return target
            if target["status"] == "active" and agreement_id == self.running_id:
                raise DomainError(
                    409, "agreement-in-use", "Agreement in use",
                    f"version {version} is the active version of {agreement_id}, which this service "
                    "routes leads with; activate another version instead",
                )  # fmt: skip
            now = self.now()
            await store.set_status(conn, agreement_id, version, "retired", now)
            log.info("agreement.retired", agreement=f"{agreement_id}@{version}")
            return {**target, "status": "retired", "retired_at": now}

    # --- start-up -------------------------------------------------------------------------------

    async def install_file(self, path: Path, text: str) -> CompiledAgreement:
        """Store the agreement file (``text`` read from ``path``) if it is new; return the active version.

        A file whose ``status`` is ``active`` is activated when its version is new and newer than
        the active one (an older or already stored version is left as it is, so a version
        activated through the API survives restarts). Raises ``AgreementError`` for an invalid
        file, a stored version with the same number but another text, or no active version at all.
        """
        check = check_agreement(text, path)
        if check.agreement is None or not check.valid:
            raise AgreementError(path, check.problems)
        try:
            return await self._install(path, text, check.agreement)
        except IntegrityError:  # another replica stored the same file at the same moment
            return await self._install(path, text, check.agreement)

    async def _install(self, path: Path, text: str, agreement: CompiledAgreement) -> CompiledAgreement:
        document = agreement.document
        async with self.uow.transaction() as conn:
            versions = await store.lock_versions(conn, document.id)
            stored = versions.get(document.version)
            if stored is not None and stored["digest"] != digest(text):
                raise AgreementError(path, [_file_problem(
                    f"version {document.version} of {document.id} is already stored with another text; "
                    "give the changed file a new version number"
                )])  # fmt: skip
            active = next((row for row in versions.values() if row["status"] == "active"), None)
            if stored is None:
                now = self.now()
                row = {
                    "agreement_id": document.id, "version": document.version, "status": "draft",
                    "title": document.title, "source": text, "digest": digest(text), "valid": True,
                    "problems": [], "created_at": now, "activated_at": None, "retired_at": None,
                }  # fmt: skip
                await store.insert_version(conn, row)
                versions[document.version] = row
                newer = active is None or document.version > active["version"]
                if document.status == "active" and newer:
                    await self._switch(conn, versions, row, agreement)
                    return agreement
                if document.status == "retired":
                    await store.set_status(conn, document.id, document.version, "retired", now)
            if active is None:
                raise AgreementError(path, [_file_problem(
                    f"agreement {document.id} has no active version: give the file 'status: active' "
                    "or activate a stored version"
                )])  # fmt: skip
            if active["version"] == document.version:
                return agreement
            log.info("agreement.file_not_active", file=str(path), active=active["version"])
            return parse_agreement(active["source"], f"{document.id}@{active['version']}")


def _file_problem(message: str) -> AgreementProblem:
    return AgreementProblem(1, 1, "version", message, "file")


class ActiveAgreement:
    """The active version of the running agreement, for the ingest path: checked once per batch.

    ``current`` costs one indexed read; a version activated since the last batch is compiled once
    (inside the batch's transaction, so the batch uses exactly what was active when it began).
    """

    def __init__(self, agreement_id: str) -> None:
        self.agreement_id = agreement_id
        self._stamp: tuple[int, str] | None = None
        self._agreement: CompiledAgreement | None = None

    async def current(self, conn: AsyncConnection) -> CompiledAgreement:
        """The agreement the batch running on ``conn`` must use."""
        stamp = await store.active_stamp(conn, self.agreement_id)
        if stamp is not None and stamp != self._stamp:
            row = await store.get_version(conn, self.agreement_id, stamp[0])
            if row is not None:
                self._agreement = parse_agreement(row["source"], f"{self.agreement_id}@{stamp[0]}")
                self._stamp = stamp
                log.info("agreement.loaded", agreement=self._agreement.version)
        if self._agreement is None:
            raise RuntimeError(f"agreement {self.agreement_id} has no active version")
        return self._agreement
