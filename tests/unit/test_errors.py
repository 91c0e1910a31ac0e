import pytest

from berth import errors


def test_error_kinds_keep_their_message():
    with pytest.raises(errors.NotFound) as info:
        raise errors.NotFound("No such container: web")
    assert str(info.value) == "No such container: web"
    assert isinstance(info.value, errors.BerthError)


def test_db_migrates_once(tmp_path):
    from berth.db import MIGRATIONS, open_db

    path = tmp_path / "berth.db"
    open_db(path).close()
    conn = open_db(path)
    applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
    assert applied == {v for v, _ in MIGRATIONS}
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
