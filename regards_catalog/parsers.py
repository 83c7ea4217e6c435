"""The API's JSON parser: DRF's, with the nesting of a body bounded.

No endpoint takes more than three levels (`{"product_ids": [...]}`). Python's parser
recurses once per level and gives up near a thousand with a RecursionError, which DRF
lets out as a 500. A body deeper than MAX_DEPTH is refused before a view sees it, so no
serializer or error renderer after it has to recurse through it either. Form bodies are
flat, and Django bounds their size and their number of fields.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32
TOO_DEEP = f"The JSON body is nested more than {MAX_DEPTH} levels deep."


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        if depth(data) > MAX_DEPTH:
            raise ParseError(TOO_DEEP)
        return data


def depth(value):
    """How many levels of arrays and objects nest in `value` (0 for a plain value); a loop,
    not a recursion, so that no body can exhaust the stack here either."""
    levels, level = 0, [value]
    while containers := [item for item in level if isinstance(item, (list, dict))]:
        levels += 1
        level = [
            child
            for container in containers
            for child in (container.values() if isinstance(container, dict) else container)
        ]
    return levels
