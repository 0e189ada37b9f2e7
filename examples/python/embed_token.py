#!/usr/bin/python3
"""Mint an exportd embed token with Python's standard library only
(docs/CONTRACTS.md "Embed tokens").  Copy exportd_embed_token() into the
host application; run as a script it prints one token:
    EXPORTD_EMBED_SECRET=... embed_token.py WORKSPACE EMAIL [LIFETIME_SECONDS]
"""
import base64
import hashlib
import hmac
import os
import sys
import time


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def exportd_embed_token(secret, workspace, email, lifetime=3600):
    """secret: the first of exportd's embed.secrets; lifetime in seconds."""
    expiry = int(time.time()) + lifetime
    payload = "%s\n%s\n%d" % (workspace, email, expiry)
    signed = "exe1." + _b64url(payload.encode("utf-8"))
    mac = hmac.new(secret.encode("utf-8"), signed.encode("ascii"), hashlib.sha256)
    return signed + "." + _b64url(mac.digest())


if __name__ == "__main__":
    life = int(sys.argv[3]) if len(sys.argv) > 3 else 3600
    print(exportd_embed_token(os.environ["EXPORTD_EMBED_SECRET"], sys.argv[1], sys.argv[2], life))
