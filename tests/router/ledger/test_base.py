"""`open_ledger` picks the store from the URL and names a bad one."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.ledger import LedgerConfigError, RedisLedger, SQLiteLedger, open_ledger

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_sqlite_urls_follow_the_sqlalchemy_spelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = open_ledger("sqlite:///rel.db")
    absolute = open_ledger(f"sqlite:///{tmp_path}/abs.db")  # four slashes: absolute
    assert isinstance(relative, SQLiteLedger) and isinstance(absolute, SQLiteLedger)
    assert relative.path == Path("rel.db") and (tmp_path / "rel.db").exists()
    assert absolute.path == tmp_path / "abs.db"
    await relative.close()
    await absolute.close()


async def test_redis_url_carries_the_key_prefix() -> None:
    ledger = open_ledger("redis://127.0.0.1:6379/0?prefix=tenant-a")
    assert isinstance(ledger, RedisLedger)
    assert ledger.prefix == "tenant-a" and ledger.max_records == 0
    assert all(key.startswith("tenant-a:ledger:") for key in ledger.keys)
    await ledger.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgres://db/x",
        "sqlite://",
        "sqlite://host/file.db",
        "ledger.db",
        "sqlite:///x.db?synchronous=off",
        "redis://127.0.0.1:6379/0?max_records=-3",
        "redis://127.0.0.1:6379/0?max_records=many",
    ],
)
def test_bad_urls_are_named(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LedgerConfigError):
        open_ledger(url)
