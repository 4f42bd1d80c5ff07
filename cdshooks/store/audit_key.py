"""The secret key for pseudonymising patient ids in the audit table.

The audit table must let us link cards for the same patient (to investigate a report) without
holding identifiers. A keyed hash (HMAC-SHA256) does that; a plain hash would not, because
patient ids are short and guessable. The key therefore never goes into the database: it comes
from ``Settings.audit_key`` or from a file created once in ``Settings.data_dir`` with 0600
permissions, shared by every worker on the host.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from ..errors import ConfigError

AUDIT_KEY_FILENAME = "audit.key"


def patient_hash(key: bytes, patient_id: str) -> str:
    """HMAC-SHA256 of the patient id, hex. Same key + same id -> same value; nothing reversible."""
    return hmac.new(key, patient_id.encode("utf-8"), hashlib.sha256).hexdigest()


def load_or_create_audit_key(data_dir: Path) -> bytes:
    """Read ``data_dir/audit.key``, creating it atomically (0600) if absent.

    Two workers starting together must end with one key: the new key is written to a private temp
    file and hard-linked into place, which fails if another worker won; the loser reads the winner's.
    A key file readable by group or others is refused rather than silently used.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / AUDIT_KEY_FILENAME
    if not path.exists():
        tmp = data_dir / f".{AUDIT_KEY_FILENAME}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"audit key {path} must not be readable by group or others (mode {mode:o}); chmod 600 it")
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"audit key {path} is not hex") from None
    if len(key) < 32:
        raise ConfigError(f"audit key {path} is shorter than 32 bytes")
    return key
