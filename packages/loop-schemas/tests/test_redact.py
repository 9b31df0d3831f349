"""One redactor for every form of a secret (issue 15 item 8), property-tested over random tokens,
including characters that URL-encoding changes."""

from __future__ import annotations

import base64
import string
from urllib.parse import quote, quote_plus

from hypothesis import given, settings
from hypothesis import strategies as st
from loop_schemas import redact, redact_data

# printable ASCII (space, / + = % & ? # … need URL-encoding) and a few non-ASCII letters
TOKEN_ALPHABET = string.ascii_letters + string.digits + string.punctuation + " éßЖ"
tokens = st.text(TOKEN_ALPHABET, min_size=8, max_size=48).map(str.strip).filter(lambda t: len(t) >= 8)
emails = st.from_regex(r"[a-z]{1,10}@[a-z]{1,8}\.(io|com)", fullmatch=True)
# surrounding text that cannot itself spell a form of the token
filler = st.text(alphabet="«»", max_size=12)


def spaced(token: str, data: st.DataObject) -> str:
    cuts = sorted(data.draw(st.sets(st.integers(1, len(token) - 1), max_size=4)), reverse=True)
    out = token
    for cut in cuts:
        out = out[:cut] + data.draw(st.sampled_from([" ", "\n", "\r\n  ", "\t"])) + out[cut:]
    return out


def forms(token: str, email: str, data: st.DataObject) -> dict[str, str]:
    pair = f"{email}:{token}".encode()
    raw = token.encode()
    pad = data.draw(st.binary(max_size=5))
    return {
        "exact": token,
        "url-encoded": quote(token, safe=""),
        "url-encoded lower hex": quote(token, safe="").lower(),
        "url-encoded, + for space": quote_plus(token, safe=""),
        "url-encoded, partly": quote(token),
        "upper": token.upper(),
        "lower": token.lower(),
        "spaced": spaced(token, data),
        "base64 token": base64.b64encode(raw).decode(),
        "base64 token url-safe": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "base64 pair": base64.b64encode(pair).decode(),
        "basic header": "Basic " + base64.b64encode(pair).decode(),
        "base64 pair url-encoded": quote(base64.b64encode(pair).decode(), safe=""),
        "base64 pair wrapped": spaced(base64.b64encode(pair).decode(), data),
        "base64 inside more": base64.b64encode(pad + raw + pad).decode(),
    }


def core(encoded_of: bytes, start_byte: int, length: int) -> str:
    """The base64 characters of `encoded_of` that depend only on bytes [start, start+length)."""
    encoded = base64.b64encode(encoded_of).decode()
    first = -(-8 * start_byte // 6)
    last = 8 * (start_byte + length) // 6
    return encoded[first:last]


@settings(max_examples=150, deadline=None)
@given(token=tokens, email=emails, before=filler, after=filler, data=st.data())
def test_no_form_of_a_secret_survives(
    token: str, email: str, before: str, after: str, data: st.DataObject
) -> None:
    secrets = [token, f"{email}:{token}"]
    for name, form in forms(token, email, data).items():
        out = redact(f"{before}{form}{after}", secrets)
        assert "***" in out, name
        assert token not in out and token.upper() not in out and token.lower() not in out, name
        assert quote(token, safe="") not in out, name
        assert base64.b64encode(token.encode()).decode().rstrip("=") not in out, name
        if name.startswith("base64") or name == "basic header":
            assert form.strip() not in out, name
        assert out.startswith(before) and out.endswith(after), name


@settings(max_examples=100, deadline=None)
@given(token=tokens, pad=st.binary(max_size=6), data=st.data())
def test_the_token_inside_any_base64_stream_is_cut(token: str, pad: bytes, data: st.DataObject) -> None:
    raw = token.encode()
    stream = pad + raw + data.draw(st.binary(max_size=6))
    out = redact(base64.b64encode(stream).decode(), [token])
    assert core(stream, len(pad), len(raw)) not in out


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300), token=tokens)
def test_text_without_the_secret_is_left_alone(text: str, token: str) -> None:
    if token.lower() in text.lower() or "%" in text or any(c.isspace() for c in text):
        return
    b64 = base64.b64encode(token.encode()).decode()
    if any(b64[i : i + 4] in text for i in range(len(b64) - 3)):
        return
    assert redact(text, [token]) == text


def test_redact_data_walks_a_json_document() -> None:
    doc = {"errors": {"x": "tok/EN=1"}, "list": ["TOK%2FEN%3D1", 3, None], "tok/en=1": True}
    assert redact_data(doc, ["tok/en=1"]) == {"errors": {"x": "***"}, "list": ["***", 3, None], "***": True}
    assert redact_data(doc, []) is doc
    assert redact("anything", ["", "  "]) == "anything"
