"""Parse JSON while remembering the line each object starts on.

The standard decoder forgets positions, but a deployment error must point the modeler at
the offending component, so objects get their starting line under a key no JSON text can
contain by accident.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
from typing import Any

LINE_KEY = "\x00line"


def loads_with_lines(text: str) -> Any:
    """Like json.loads; every decoded object gets its 1-based start line under LINE_KEY.

    Raises json.JSONDecodeError exactly like json.loads.
    """
    decoder = json.JSONDecoder()
    plain_parse_object = json.decoder.JSONObject  # type: ignore[attr-defined]

    def parse_object(s_and_end: tuple[str, int], *args: Any) -> tuple[Any, int]:
        s, end = s_and_end
        obj, new_end = plain_parse_object(s_and_end, *args)
        if isinstance(obj, dict):
            obj[LINE_KEY] = s.count("\n", 0, end) + 1
        return obj, new_end

    decoder.parse_object = parse_object  # type: ignore[attr-defined]
    # The C scanner ignores parse_object; the pure-Python one calls it.
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    return decoder.decode(text)


def without_lines(value: Any) -> Any:
    """A decoded value with the recorded lines removed, for data that is kept as written."""
    if isinstance(value, dict):
        return {k: without_lines(v) for k, v in value.items() if k != LINE_KEY}
    if isinstance(value, list):
        return [without_lines(v) for v in value]
    return value
