"""The JSON parser of every DRF view: DRF's own, with the body bounded and too-deep nesting answered as a 400."""
from __future__ import annotations

import io

from django.conf import settings
from rest_framework import parsers, status
from rest_framework.exceptions import APIException, ParseError


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def body_limit() -> int | None:
    """Django's bound on a request body in memory (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB by default)."""
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large_detail(limit: int) -> str:
    return f"the body is larger than {limit} bytes"


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = body_limit()
        if limit is not None and stream is not None:
            # DRF reads the request stream itself, past the bound Django puts on request.body: read no further.
            raw = stream.read(limit + 1)
            if len(raw) > limit:
                raise BodyTooLarge(too_large_detail(limit))
            stream = io.BytesIO(raw)
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # The standard library's decoder recurses once per level; DRF only turns ValueError into a 400.
            raise ParseError("JSON parse error - the body is nested too deeply") from None
