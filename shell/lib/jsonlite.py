"""jsonlite.py: json.loads / json.dumps answers without importing the json package (stdlib only, py3.8+).

The json package compiles its own regular expressions when it is imported (json.decoder, json.scanner,
json.encoder): about 2 % of the instructions of a warm `loop-digest --json`, which reads two JSON
files and writes one document. Its work is done by the C accelerator `_json` anyway (the scanner of
json.loads, the encoder of a one-shot json.dumps, the string encoder); this module calls that
accelerator with exactly the settings json's defaults give it, and gives every input it does not
plainly take (an error, a leading byte-order mark, text after the document, an object the encoder
refuses, an interpreter without `_json` or with another signature) to the json package itself, so the
answer, or the exception and its message, is always json's own (a parse_constant hook that raises is
called again by json). Tests hold loads/dumps equal to json.loads/json.dumps on random input, and on
errors in a fresh interpreter.

Users: shell/lib/digest.py and mail_index.py (and loop_schemas._shared's byte-identical copy, `make shared`).
"""

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import on the digest's start-up; annotations are strings here
    from typing import Any, Callable, Dict, List, Optional, Tuple

try:
    import _json
except ImportError:  # an interpreter without the accelerator: json itself, always
    _json = None  # type: ignore[assignment]

_WS = " \t\n\r"  # json.decoder.WHITESPACE's characters


class _Context:
    """The attributes _json.make_scanner reads from a json.JSONDecoder, at json.loads' defaults."""

    def __init__(self, parse_constant: "Callable[[str], Any]") -> None:
        self.strict = True
        self.object_hook = None
        self.object_pairs_hook = None
        self.parse_float = float
        self.parse_int = int
        self.parse_constant = parse_constant
        self.memo: "Dict[str, Any]" = {}


_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}
_SCANNER: "List[Any]" = []  # json.loads' own scanner, made on first use


def _scanner(parse_constant: "Optional[Callable[[str], Any]]") -> "Any":
    make: Any = _json.make_scanner  # called with a decoder's attributes (typeshed names its own type)
    if parse_constant is not None:
        return make(_Context(parse_constant))
    if not _SCANNER:
        _SCANNER.append(make(_Context(_CONSTANTS.__getitem__)))
    return _SCANNER[0]


def loads(s: str, parse_constant: "Optional[Callable[[str], Any]]" = None) -> "Any":
    """json.loads(s, parse_constant=parse_constant) for a str `s`: the same value or the same exception."""
    if _json is not None and type(s) is str and s[:1] != "\ufeff":
        try:
            scan = _scanner(parse_constant)
            start = len(s) - len(s.lstrip(_WS))
            obj, end = scan(s, start)
        except Exception:  # json.loads answers it (below): the error is json's own
            # (3.11's scanner, asked to raise its JSONDecodeError before json.decoder is imported,
            # raises a SystemError instead: json's own reading of the text always decides)
            pass
        else:
            if end == len(s) or not s[end:].strip(_WS):
                return obj
    import json

    if parse_constant is None:
        return json.loads(s)
    return json.loads(s, parse_constant=parse_constant)


def _default(o: "Any") -> "Any":
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def dumps(obj: "Any", check_circular: bool = True, separators: "Optional[Tuple[str, str]]" = None) -> str:
    """json.dumps(obj, ensure_ascii=False, check_circular=check_circular, separators=separators): the
    same text or the same exception."""
    if _json is not None:
        if type(obj) is str:
            return encode_str(obj)
        item_sep, key_sep = separators or (", ", ": ")
        try:  # json.encoder's c_make_encoder call for a one-shot dumps without indent
            encoder = _json.make_encoder(
                {} if check_circular else None,
                _default,
                encode_str,
                None,
                key_sep,
                item_sep,
                False,
                False,
                True,
            )
            return "".join(encoder(obj, 0))
        except Exception:  # json.dumps answers it (below): the error is json's own
            pass
    import json

    return json.dumps(obj, ensure_ascii=False, check_circular=check_circular, separators=separators)


def _py_encode_str(s: str) -> str:
    import json.encoder

    return json.encoder.encode_basestring(s)


# json.encoder.encode_basestring (what json.dumps(ensure_ascii=False) writes a str with): the same C function
encode_str: "Callable[[str], str]" = _json.encode_basestring if _json is not None else _py_encode_str
