"""The pseudonymisation key: a short or empty key (environment or key file) is refused with one
line, since it lets anyone holding the data re-identify patients by trying hospital numbers; the
key file is made whole under a temporary name, owner-only, then given its name."""
import os
import subprocess

import pytest

from pipelines import pseudonym
from pipelines.db import AuditError
from tests.conftest import CLI, order_row, write_orders_csv


@pytest.mark.parametrize("key", ["", "x", "k" * 31, "é" * 15])  # é is two bytes: 30 in all
def test_a_short_key_in_the_environment_is_refused(tmp_path, monkeypatch, key):
    monkeypatch.setenv(pseudonym.KEY_ENV, key)
    with pytest.raises(AuditError, match=f"{pseudonym.KEY_ENV}: the pseudonymisation key is {len(key.encode())} "
                                         "bytes long; it must be at least 32"):
        pseudonym.resolve_key(tmp_path / "audit.duckdb")
    monkeypatch.setenv(pseudonym.KEY_ENV, "k" * 32)
    assert pseudonym.resolve_key(tmp_path / "audit.duckdb") == (b"k" * 32, None)


@pytest.mark.parametrize("content", ["", "\n", "short-key\n"])
def test_a_short_key_file_is_refused(tmp_path, monkeypatch, content):
    monkeypatch.delenv(pseudonym.KEY_ENV, raising=False)
    (tmp_path / "audit.duckdb.key").write_text(content)
    with pytest.raises(AuditError, match="audit.duckdb.key: the pseudonymisation key is"):
        pseudonym.resolve_key(tmp_path / "audit.duckdb")


def test_the_key_file_is_made_whole_owner_only_and_an_existing_one_is_never_replaced(tmp_path, monkeypatch):
    monkeypatch.delenv(pseudonym.KEY_ENV, raising=False)
    key, warning = pseudonym.resolve_key(tmp_path / "audit.duckdb")
    key_file = tmp_path / "audit.duckdb.key"
    assert len(key) == 64 and "(created now)" in warning
    assert (key_file.stat().st_mode & 0o777) == 0o600 and os.listdir(tmp_path) == ["audit.duckdb.key"]
    assert pseudonym.resolve_key(tmp_path / "audit.duckdb")[0] == key
    assert not pseudonym._create_key_file(key_file)  # another run made it meanwhile: that key stays
    assert key_file.read_text().encode() == key and os.listdir(tmp_path) == ["audit.duckdb.key"]


def test_the_command_line_refuses_a_short_key_with_one_line_before_any_work(tmp_path):
    inbox = tmp_path / "inbox"
    write_orders_csv(inbox / "a.csv", [order_row("K1")])
    result = subprocess.run([CLI, "run", "--inbox", str(inbox), "--db", str(tmp_path / "a.duckdb"),
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120,
                            env={**os.environ, pseudonym.KEY_ENV: "secret"})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "ivig-audit: IVIG_AUDIT_PSEUDONYM_KEY: the pseudonymisation key is 6 bytes long; it must be at least 32 "
        "(for example 64 hex digits: python3 -c 'import secrets; print(secrets.token_hex(32))')"]
    assert not (tmp_path / "a.duckdb").exists() and not (tmp_path / "out").exists()
