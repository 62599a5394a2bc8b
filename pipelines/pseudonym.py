"""The pseudonymisation key: patient_key = HMAC-SHA256(key, site + US + patient_id), computed in
DuckDB (macro patient_key_of in sql/macros.sql, used by the staging models) from the two padded
keys below, so no patient id is hashed row by row in Python and none is ever stored."""
import hashlib
import os
import secrets
from pathlib import Path

KEY_ENV = "IVIG_AUDIT_PSEUDONYM_KEY"
_BLOCK = 64  # SHA-256 block size, RFC 2104


def resolve_key(db_path: Path) -> tuple[bytes, str | None]:
    """The key from the environment, else from (or newly into) <db>.key; and a warning to show."""
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        return from_env.encode("utf-8"), None
    key_file = Path(f"{db_path}.key")
    if key_file.exists():
        created = False
    else:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
        created = True
    warning = (f"{KEY_ENV} is not set: pseudonyms use the key file {key_file}"
               f"{' (created now)' if created else ''}. Keep it apart from any shared copy of the "
               "database; without it new extracts will not link to earlier ones.")
    return key_file.read_text().strip().encode("utf-8"), warning


def hmac_pads(key: bytes) -> dict[str, bytes]:
    """Inner and outer HMAC pads, bound as $hmac_inner and $hmac_outer in the staging SQL."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return {"hmac_inner": bytes(b ^ 0x36 for b in key), "hmac_outer": bytes(b ^ 0x5C for b in key)}
