"""The JSON parser of every DRF view: DRF's own, except that a body nested too deep for Python is a 400, not a 500."""
from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # The standard library's decoder recurses once per level; DRF only turns ValueError into a 400.
            raise ParseError("JSON parse error - the body is nested too deeply") from None
