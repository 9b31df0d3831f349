"""lane_status's per-poll cost, with the same answers: the prefetch's captures are cut by pane height
(no marker command between them), hook files are found with one listing per directory, the report's
JSON is the stdlib's."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"
sys.path.insert(0, str(LIB))
import lane_status as ls  # noqa: E402  (shell/lib is the helpers' folder, not a package)

NONCE = "0123456789abcdef01234567"


def _listing(panes: list[tuple[str, int]], session: str = "s") -> str:
    """A list-panes answer in lane_status's format for (pane id, height) pairs."""
    rows = []
    for i, (pane_id, height) in enumerate(panes):
        values = dict.fromkeys(ls.PANE_FIELDS, "")
        values.update(
            {
                "session_name": session,
                "window_id": f"@{i}",
                "window_index": str(i),
                "window_name": f"w{i}",
                "pane_id": pane_id,
                "pane_index": "0",
                "pane_left": "0",
                "pane_top": "0",
                "pane_dead": "0",
                "pane_current_command": "codex",
                "pane_pid": str(1000 + i),
                "pane_height": str(height),
                "@loop_lane": "1",
                "@loop_lane_harness": "codex",
            }
        )
        rows.append(f"~{NONCE}~".join(values[f] for f in ls.PANE_FIELDS) + f"~{NONCE}$\n")
    return "".join(rows)


def _answer(panes: list[tuple[str, int]], screens: list[list[str]], end: bool = True) -> bytes:
    head = " ".join([ls.PREFETCH_TAG, NONCE, *(p[1:] for p, _ in panes)])
    text = f"{head}\n{_listing(panes)}{ls.PREFETCH_TAG}-{NONCE}-list\n"
    text += "".join(line + "\n" for screen in screens for line in screen)
    if end:
        text += f"{ls.PREFETCH_TAG}-{NONCE}-end\n"
    return text.encode()


def _read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data: bytes) -> ls.Prefetch:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    prefetch = ls.Prefetch(str(tmp_path / "argv"))
    prefetch.read("s")
    return prefetch


def test_split_by_height_cuts_back_to_back_captures() -> None:
    text = "a1\na2\nb1\nb2\nb3\n"
    got = ls.split_by_height(text, ["%1", "%2"], {"%1": 2, "%2": 3})
    assert got == {"%1": ["a1", "a2"], "%2": ["b1", "b2", "b3"]}
    # a count the heights do not add up to, a pane the listing does not know: nothing is trusted
    assert ls.split_by_height(text + "x\n", ["%1", "%2"], {"%1": 2, "%2": 3}) == {}
    assert ls.split_by_height(text[:-1], ["%1", "%2"], {"%1": 2, "%2": 3}) == {}
    assert ls.split_by_height(text, ["%1", "%9"], {"%1": 2, "%2": 3}) == {}
    assert ls.split_by_height("", [], {}) == {}


def test_prefetch_answer_is_used_only_when_it_adds_up(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    panes = [("%1", 2), ("%2", 3)]
    screens = [["> ", "? for shortcuts"], ["x", "y", "z"]]
    good = _read(monkeypatch, tmp_path, _answer(panes, screens))
    assert [p.pane_id for p in good.panes or []] == ["%1", "%2"]
    assert good.screens == {"%1": screens[0], "%2": screens[1]}
    # one line more than the heights say (a screen row that held a newline would do this): no screens,
    # every pane is captured again; the listing itself still stands
    extra = _read(monkeypatch, tmp_path, _answer(panes, [screens[0] + ["forged"], screens[1]]))
    assert extra.panes is not None and extra.screens == {}
    # the chain stopped before its end marker (a pane gone): no screens
    cut = _read(monkeypatch, tmp_path, _answer(panes, screens, end=False))
    assert cut.panes is not None and cut.screens == {}
    # an answer in the old per-capture-marker format is not read as this one
    old = _answer(panes, screens).replace(ls.PREFETCH_TAG.encode(), b"lls1")
    stale = _read(monkeypatch, tmp_path, old)
    assert stale.panes is None and stale.screens == {}


def test_prepare_writes_no_command_between_captures(tmp_path: Path) -> None:
    path = tmp_path / "argv"
    prefetch = ls.Prefetch(str(path))
    panes = ls.parse_listing(_listing([("%1", 2), ("%2", 3), ("%3", 4)]), NONCE)
    prefetch.prepare("s", panes)
    argv = path.read_bytes().rstrip(b"\n").decode().split("\x1f")
    commands = [argv[0]] + [argv[i + 1] for i, a in enumerate(argv) if a == ";"]
    assert commands == ["display-message", "list-panes", "display-message"] + ["capture-pane"] * 3 + [
        "display-message"
    ]
    assert argv[-1].startswith(f"{ls.PREFETCH_TAG}-") and argv[-1].endswith("-end")
    # an old-format file (another tag) is rewritten even for the same panes
    old = path.read_bytes().replace(ls.PREFETCH_TAG.encode(), b"lls1", 1)
    path.write_bytes(old)
    again = ls.Prefetch(str(path))
    again.old_argv = old
    again.prepare("s", panes)
    assert path.read_bytes().startswith(b"display-message\x1f-p\x1f" + ls.PREFETCH_TAG.encode() + b" ")


def test_hook_files_are_found_by_listing_not_by_opening_each(monkeypatch, tmp_path: Path) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    monkeypatch.setenv("LOOP_LANE_HOOK_DIR", str(hooks))
    panes = ls.parse_listing(_listing([(f"%{i}", 5) for i in range(40)]), NONCE)
    opened: list[str] = []
    real = ls.read_hook

    def counting(pane):
        opened.append(pane.pane_id)
        return real(pane)

    monkeypatch.setattr(ls, "read_hook", counting)
    assert ls.read_hooks(panes) == {}
    assert opened == []  # no hook file: no open at all
    (hooks / "pane-7.status").write_text("working\t1\tPreToolUse\t\n")
    (hooks / "pane-9.status").write_text("bogus\t1\tx\t\n")
    got = ls.read_hooks(panes)
    assert list(got) == ["%7"] and got["%7"][0] == "working" and sorted(opened) == ["%7", "%9"]
    # a hook folder that cannot be listed (here: a file) falls back to opening each pane's file
    monkeypatch.setenv("LOOP_LANE_HOOK_DIR", str(hooks / "pane-7.status"))
    opened.clear()
    assert ls.read_hooks(panes[:3]) == {} and opened == ["%0", "%1", "%2"]
    # no hook folder at all: nothing to open
    monkeypatch.setenv("LOOP_LANE_HOOK_DIR", str(tmp_path / "missing"))
    opened.clear()
    assert ls.read_hooks(panes) == {} and opened == []


@pytest.mark.parametrize(
    "value",
    [
        {"a": "plain", "b": None, "c": True, "d": False, "e": 3, "f": 1.5, "g": [1, "x", None]},
        {"quote": 'a"b', "backslash": "a\\b", "tab": "a\tb", "nl": "a\nb", "uni": "ünï ✓", "ctl": "\x01"},
        {"surrogate": b"bad \xff byte".decode("utf-8", "surrogateescape"), "nested": {"k": {"k2": "v"}}},
        {"lanes": {'we"b \\ ✓': {"lane": 'we"b \\ ✓', "status": "idle", "detail": None, "ai": True}}},
    ],
)
def test_dump_json_reads_back_as_the_same_document(value: dict) -> None:
    text = ls.dump_json(value)
    assert json.loads(text) == value
    assert text == json.dumps(value, ensure_ascii=False).replace("\udcff", "\\udcff")
