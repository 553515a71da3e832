"""The one token counter: tiktoken's ``cl100k_base`` (GPT-4's tokenizer), loaded offline.

Every token figure thinkgate reports for a text (outcome tables built from recorded responses,
the ledger, the gateway's usage fallback) comes from :func:`count_tokens`, so figures compare.
``cl100k_base`` is a neutral, widely used BPE; counts for other models' tokenizers differ by a
few percent, which does not change any routing decision. The BPE file is the copy litellm ships
in ``litellm/litellm_core_utils/tokenizers/``: tiktoken is pointed at that directory through
``TIKTOKEN_CACHE_DIR`` (found with ``importlib.util.find_spec`` so litellm is never imported),
so nothing is downloaded. The encoder loads lazily on first use and is cached.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from difficulty.errors import ThinkgateError

if TYPE_CHECKING:
    import tiktoken

__all__ = ["ENCODING_NAME", "TokenizerUnavailableError", "count_tokens", "tokenizer_dir"]

ENCODING_NAME = "cl100k_base"
# tiktoken names its cache file by the SHA-1 of the BPE file's URL.
_CL100K_CACHE_KEY = "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"
_lock = threading.Lock()


class TokenizerUnavailableError(ThinkgateError):
    """The offline BPE file for the token counter cannot be found."""

    code = "tokenizer_unavailable"


def tokenizer_dir() -> Path:
    """The directory of litellm's bundled tiktoken files (litellm is located, not imported)."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerUnavailableError("litellm is not installed: its bundled BPE file is needed")
    base = Path(next(iter(spec.submodule_search_locations)))
    directory = base / "litellm_core_utils" / "tokenizers"
    if not (directory / _CL100K_CACHE_KEY).is_file():
        raise TokenizerUnavailableError(f"cl100k_base BPE file not found in {directory}")
    return directory


@lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    import tiktoken

    directory = str(tokenizer_dir())
    with _lock:
        # Point tiktoken at the bundled file only while loading, then restore the caller's value.
        previous = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = directory
        try:
            return tiktoken.get_encoding(ENCODING_NAME)
        finally:
            if previous is None:
                os.environ.pop("TIKTOKEN_CACHE_DIR", None)
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = previous


def count_tokens(text: str) -> int:
    """Number of ``cl100k_base`` tokens in ``text`` (special-token strings count as plain text)."""
    if not text:
        return 0
    return len(_encoding().encode(text, disallowed_special=()))
