"""The pseudonymisation key: patient_key = HMAC-SHA256(key, site + US + patient_id), computed in
DuckDB (macro patient_key_of in sql/macros.sql, used by the staging models) from the two padded
keys below, so no patient id is hashed row by row in Python and none is ever stored."""
import hashlib
import os
import secrets
import tempfile
from pathlib import Path

from pipelines.db import AuditError

KEY_ENV = "IVIG_AUDIT_PSEUDONYM_KEY"
MIN_KEY_BYTES = 32  # a short key lets anyone holding the data re-identify patients by trying hospital numbers
_BLOCK = 64  # SHA-256 block size, RFC 2104


def resolve_key(db_path: Path) -> tuple[bytes, str | None]:
    """The key from the environment, else from (or newly into) <db>.key; and a warning to show.
    A key shorter than MIN_KEY_BYTES is refused."""
    if KEY_ENV in os.environ:
        return _checked(os.environ[KEY_ENV].encode("utf-8"), KEY_ENV), None
    key_file = Path(f"{db_path}.key")
    created = not key_file.exists() and _create_key_file(key_file)
    warning = (f"{KEY_ENV} is not set: pseudonyms use the key file {key_file}"
               f"{' (created now)' if created else ''}. Keep it apart from any shared copy of the "
               "database; without it new extracts will not link to earlier ones.")
    return _checked(key_file.read_text().strip().encode("utf-8"), str(key_file)), warning


def _checked(key: bytes, source: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise AuditError(f"{source}: the pseudonymisation key is {len(key)} bytes long; it must be at least "
                         f"{MIN_KEY_BYTES} (for example 64 hex digits: python3 -c 'import secrets; "
                         "print(secrets.token_hex(32))')")
    return key


def _create_key_file(key_file: Path) -> bool:
    """Write a new key to a temporary name (owner-only), then give it its name in one step, so no
    run ever reads a half-written key. The step is a hard link, a rename that never replaces: when
    another run made the key meanwhile, that key stays (and False is returned)."""
    key_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{key_file.name}.", dir=key_file.parent)  # mode 0600
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, key_file)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)


def hmac_pads(key: bytes) -> dict[str, bytes]:
    """Inner and outer HMAC pads, bound as $hmac_inner and $hmac_outer in the staging SQL."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return {"hmac_inner": bytes(b ^ 0x36 for b in key), "hmac_outer": bytes(b ^ 0x5C for b in key)}
