"""Signed, expiring download links for deployment packages (GetFunction's ``Code.Location``).

AWS hands out a presigned S3 URL valid for ten minutes; lamina hands out a link to itself,
signed with a key kept in the data directory, so that only someone who was shown the link
(by an authorised GetFunction) can download the package.
"""

from __future__ import annotations

import hashlib
import hmac
import time

LINK_TTL_S = 600
PATH_PREFIX = "/_lamina/code/"


class CodeUrlSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def url(self, host: str, sha256_hex: str, now: float | None = None) -> str:
        expires = int((now or time.time()) + LINK_TTL_S)
        signature = self._sign(sha256_hex, expires)
        return f"http://{host}{PATH_PREFIX}{sha256_hex}.zip?Expires={expires}&Signature={signature}"

    def verify(self, sha256_hex: str, expires: str | None, signature: str | None) -> bool:
        if not expires or not signature or not expires.isdigit():
            return False
        if int(expires) < time.time():
            return False
        return hmac.compare_digest(self._sign(sha256_hex, int(expires)), signature)

    def _sign(self, sha256_hex: str, expires: int) -> str:
        message = f"{sha256_hex}:{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
