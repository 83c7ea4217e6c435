"""Logging helpers."""

import logging
import re

# Passwords too: the REGARDS frontend logs in with its credentials in the query string. And
# the signature of a signed download link, which stands for its user's token until it expires.
TOKEN_IN_URL = re.compile(
    r"([?&](?:token|access_token|password|signature)=)[^&\s\"']+", re.IGNORECASE
)


def mask_tokens(text):
    return TOKEN_IN_URL.sub(r"\1***", text)


class MaskTokensFilter(logging.Filter):
    """Logging filter: tokens and passwords passed in URLs never reach the log."""

    def filter(self, record):
        message = record.getMessage()
        masked = mask_tokens(message)
        if masked != message:
            record.msg = masked
            record.args = ()
        return True
