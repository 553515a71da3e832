"""The documented, seeded held-out split: items the shipped default model never trains on."""

from __future__ import annotations

import hashlib

__all__ = ["HOLDOUT_SALT", "HOLDOUT_SHARE", "is_holdout"]

HOLDOUT_SALT = "thinkgate-holdout-v1"
HOLDOUT_SHARE = 0.2


def is_holdout(item_id: str, share: float = HOLDOUT_SHARE, salt: str = HOLDOUT_SALT) -> bool:
    """True when the item belongs to the reserved evaluation/demo part (stable across runs)."""
    digest = hashlib.sha256(f"{salt}:{item_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share
