"""Shared fixtures: real SQLite files, a real PostgreSQL cluster and a real Kafka-protocol broker."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from services.db.engine import create_engine
from services.db.uow import UnitOfWork
from services.migrate import upgrade
from services.settings import Settings
from tests.support.components import KafkaBroker, PostgresCluster, running_broker

# The review worker announces the reviews of today's date (the example agreement has one due): tests that
# count events or gauges run it by hand, with their own clock. Services the tests start inherit this.
os.environ.setdefault("LEADROUTER_REVIEW_WORKER_SECONDS", "0")

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_AGREEMENT = REPO / "deploy" / "agreements" / "example.yaml"
_database_names = itertools.count()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster per test session, with a migrated template database."""
    cluster = PostgresCluster(tmp_path_factory.mktemp("postgres") / "data")
    cluster.psql("CREATE DATABASE leadrouter_template")
    upgrade(cluster.url("leadrouter_template"))
    yield cluster
    cluster.stop()


def new_postgres_database(cluster: PostgresCluster, template: str = "leadrouter_template") -> str:
    """Create a fresh database from ``template`` (template0 = empty) and return its name."""
    name = f"test_{next(_database_names)}"
    cluster.psql(f"CREATE DATABASE {name} TEMPLATE {template}")
    return name


@pytest.fixture
def pg_url(postgres: PostgresCluster) -> Iterator[str]:
    """URL of a fresh, migrated PostgreSQL database for one test."""
    name = new_postgres_database(postgres)
    yield postgres.url(name)
    postgres.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that tests copy."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """URL of a fresh, migrated SQLite file for one test."""
    path = tmp_path / "leadrouter.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def uow(db_url: str) -> AsyncIterator[UnitOfWork]:
    """A unit of work on the test's database."""
    engine = create_engine(Settings(database_url=db_url))
    yield UnitOfWork(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A Kafka-protocol broker (Tansu) for the test session."""
    with running_broker(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker


@pytest.fixture
def agreement_file(tmp_path: Path) -> Path:
    """A copy of the example agreement with a 2-second wall-clock first-touch deadline (tests can edit it)."""
    text = EXAMPLE_AGREEMENT.read_text(encoding="utf-8").replace(
        "within: PT4H\n    calendar: dach-office", "within: PT2S"
    )
    path = tmp_path / "agreement.yaml"
    path.write_text(text, encoding="utf-8")
    return path
