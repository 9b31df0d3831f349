"""lane_status's per-poll cost, with the same answers: the prefetch's captures are cut by pane height
(no marker command between them), hook files are found with one listing per directory, the report's
JSON is the stdlib's, a screen's rows are searched only where a match could change the verdict."""

from __future__ import annotations

import io
import json
import os
import re
import select
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

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


def _tmux_commands(argv: list[str]) -> list[list[str]]:
    """argv cut into commands by tmux's rule (cmd_parse_from_arguments): a word whose last character is
    an unescaped ";" ends a command, the ";" dropped (a lone ";" is such a word)."""
    commands: list[list[str]] = []
    current: list[str] = []
    for arg in argv:
        end = arg.endswith(";") and not arg.endswith("\\;")
        word = arg[:-1] if end else arg
        if word:
            current.append(word)
        if end:
            commands.append(current)
            current = []
    return [*commands, current] if current else commands


def test_prepare_writes_no_command_between_captures(tmp_path: Path) -> None:
    path = tmp_path / "argv"
    prefetch = ls.Prefetch(str(path))
    panes = ls.parse_listing(_listing([("%1", 2), ("%2", 3), ("%3", 4)]), NONCE)
    prefetch.prepare("s", panes)
    argv = path.read_bytes().rstrip(b"\n").decode().split("\x1f")
    commands = _tmux_commands(argv)
    assert [c[0] for c in commands] == ["display-message", "list-panes", "display-message"] + [
        "capturep"
    ] * 3 + ["display-message"]
    # each capture is two words (the shell reads the file word by word on every poll)
    assert commands[3:6] == [["capturep", "-pt%1"], ["capturep", "-pt%2"], ["capturep", "-pt%3"]]
    assert len(argv) == 18 + 2 * 3
    assert commands[2] == ["display-message", "-p", f"{ls.PREFETCH_TAG}-{commands[0][2].split()[1]}-list"]
    assert argv[-1].startswith(f"{ls.PREFETCH_TAG}-") and argv[-1].endswith("-end")
    # an old-format file (another tag) is rewritten even for the same panes
    old = path.read_bytes().replace(ls.PREFETCH_TAG.encode(), b"lls1", 1)
    path.write_bytes(old)
    again = ls.Prefetch(str(path))
    again.old_argv = old
    again.prepare("s", panes)
    assert path.read_bytes().startswith(b"display-message\x1f-p\x1f" + ls.PREFETCH_TAG.encode() + b" ")
    # so is a file with this tag and these panes that spells each capture in five words
    five = []
    for command in commands:
        five += [
            *([";"] if five else []),
            *(["capture-pane", "-p", "-t", command[1][3:]] if command[0] == "capturep" else command),
        ]
    path.write_bytes("\x1f".join(five).encode() + b"\n")
    again = ls.Prefetch(str(path))
    again.old_argv = path.read_bytes()
    again.prepare("s", panes)
    assert len(path.read_bytes().rstrip(b"\n").split(b"\x1f")) == 18 + 2 * 3


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


# ---- which rows of a screen are searched ---------------------------------------------------------------
class _Counting:
    """A compiled pattern that records the rows it is asked to search."""

    def __init__(self, pattern: str) -> None:
        self.compiled = re.compile(pattern)
        self.rows: list[str] = []

    def search(self, text: str) -> re.Match[str] | None:
        self.rows.append(text)
        return self.compiled.search(text)


def _counting_patterns() -> SimpleNamespace:
    return SimpleNamespace(
        idle=_Counting("READY>"),
        approval=_Counting("Allow\\?"),
        busy=_Counting("esc to interrupt"),
        error=_Counting("API Error"),
        welcome=_Counting("Welcome"),
        title_busy=None,
    )


def test_rows_above_the_idle_prompt_or_the_error_tail_are_not_searched() -> None:
    # 15 rows, the idle prompt on the bottom one: an approval prompt counts only below it, an error line
    # only among the bottom ERROR_TAIL rows; busy is wherever it shows in the tail
    rows = [f"output line {i}" for i in range(14)] + ["READY>"]
    pats = _counting_patterns()
    assert ls.classify_screen(rows, pats, None) == ("idle", "ready")
    assert pats.approval.rows == []
    assert pats.error.rows == rows[-ls.ERROR_TAIL :][::-1]
    assert pats.busy.rows == rows[::-1]
    # the prompt two rows up: only the two rows below it are searched for an approval prompt
    rows = [*rows[:13], "READY>", "Allow?", "status line"]
    pats = _counting_patterns()
    assert ls.classify_screen(rows, pats, None) == ("awaiting-approval", "approval")
    assert pats.approval.rows == ["status line", "Allow?"]
    # fewer rows than ERROR_TAIL: every row is searched, none twice
    pats = _counting_patterns()
    assert ls.classify_screen(["API Error: 500", "x"], pats, None) == ("errored", "error")
    assert pats.error.rows == ["x", "API Error: 500"]


def _full_scan_verdict(rows: list[str], pats: SimpleNamespace) -> tuple[str, str | None]:
    """The classifier's rules with every row searched for every pattern (the verdict to keep)."""

    def last(pattern: _Counting) -> int:
        found = [i for i, row in enumerate(rows) if pattern.compiled.search(row)]
        return found[-1] if found else -1

    idle_at = last(pats.idle)
    approval_at = last(pats.approval)
    if approval_at >= 0 and approval_at > idle_at:
        return "awaiting-approval", "approval"
    if last(pats.busy) >= 0:
        return "working", "busy"
    error_at = last(pats.error)
    if error_at >= 0 and error_at >= len(rows) - ls.ERROR_TAIL:
        return ("idle", "api-error") if idle_at > error_at else ("errored", "error")
    if idle_at >= 0:
        return "idle", "ready"
    if last(pats.welcome) >= 0:
        return "working", "booting"
    return "unknown", None


@settings(max_examples=400, deadline=None)
@example(["API Error: 400"] + ["x"] * (ls.ERROR_TAIL - 1))  # the error line first of the bottom rows
@example(["API Error: 400"] + ["x"] * ls.ERROR_TAIL)  # just above them
@example(["READY>", "Allow?", "READY>"])  # an approval prompt above the idle prompt
@example(["Allow?", "READY>", "Allow?"])
@given(
    st.lists(
        st.sampled_from(["READY>", "Allow?", "esc to interrupt", "API Error: 400", "Welcome", "text", "x"]),
        max_size=20,
    )
)
def test_the_searched_rows_give_the_full_scan_verdict(rows: list[str]) -> None:
    want = _full_scan_verdict(rows, _counting_patterns())
    assert ls.classify_screen(rows, _counting_patterns(), None) == want


_ROWS = st.sampled_from(["READY>", "Allow?", "esc to interrupt", "API Error: 400", "Welcome", "text", "x"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_ROWS, max_size=20), max_size=6))
def test_matchers_shared_by_many_screens_give_the_full_scan_verdict(screens: list[list[str]]) -> None:
    # one set of RowMatchers for a whole fleet, as one call's Registry holds them: each screen's verdict
    # is still the one a full scan of its own rows gives
    plain = _counting_patterns()
    shared = SimpleNamespace(
        **{k: ls.RowMatcher(getattr(plain, k).compiled) for k in ("idle", "approval", "busy", "error")},
        welcome=ls.RowMatcher(plain.welcome.compiled),
        title_busy=None,
    )
    for rows in screens:
        assert ls.classify_screen(rows, shared, None) == _full_scan_verdict(rows, _counting_patterns())


class _CountingCompiled:
    """A compiled pattern (what SreCache.compile gives) that records the rows it searches."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.compiled = re.compile(pattern)
        self.rows: list[str] = []

    def search(self, text: str) -> re.Match[str] | None:
        self.rows.append(text)
        return self.compiled.search(text)


def test_a_row_repeated_across_a_fleet_is_searched_once_per_pattern() -> None:
    counting = _CountingCompiled("esc to interrupt")
    matcher = ls.RowMatcher(counting)  # type: ignore[arg-type]
    border = "\u2500" * 80
    screens = [[border, f"output {i}", border, "> ", "esc to interrupt"] for i in range(3)]
    assert [ls._last_match(matcher, rows) for rows in screens] == [4, 4, 4]
    assert [ls._last_match(matcher, rows[:4]) for rows in screens] == [-1, -1, -1]
    once = {border, "> ", "esc to interrupt", "output 0", "output 1", "output 2"}
    assert sorted(counting.rows) == sorted(once)


def test_one_matcher_per_pattern_text_and_a_bounded_memory() -> None:
    registry = ls.Registry(
        {
            "a": {"kind": "ai", "busy_pattern": "spin", "idle_pattern": "READY>"},
            "b": {"kind": "ai", "busy_pattern": "spin", "idle_pattern": "> $"},
        }
    )
    assert registry.patterns("a").busy is registry.patterns("b").busy  # the same text: one memory
    assert registry.patterns("a").idle is not registry.patterns("b").idle
    matcher = registry.patterns("a").busy
    assert matcher is not None
    for i in range(ls.RowMatcher._MAX_ROWS + 10):
        matcher.search(f"row {i}")
    assert 0 < len(matcher.seen) <= ls.RowMatcher._MAX_ROWS
    assert matcher.search("spin here") and not matcher.search("row 1")


@given(st.lists(st.text(alphabet=" \t\xa0ab\u3000", max_size=4), max_size=40), st.integers(1, 30))
def test_live_tail_keeps_the_bottom_non_blank_rows(lines: list[str], keep: int) -> None:
    assert ls.live_tail(lines, keep) == [line.rstrip() for line in lines if line.strip()][-keep:]


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)) | st.sampled_from('"\\\x00\x1f\x7f\udcff'))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            _TEXT,
            st.sampled_from(["fixed", "dynamic"]),
            _TEXT,
            st.sampled_from(ls.STATUSES),
            st.none() | _TEXT,
            st.none() | _TEXT,
            st.sampled_from(["screen", "hook", "process"]),
            st.booleans(),
        ),
        max_size=6,
    ),
    _TEXT,
)
def test_the_report_is_written_as_dump_json_writes_it(rows: list[tuple], session: str) -> None:
    lanes: dict[str, str] = {}
    doc_lanes: dict[str, object] = {}
    for name, kind, target, status, detail, harness, source, ai in rows:
        verdict = ls.Verdict(status, detail, source, harness)
        lanes[name] = ls.entry_json(name, kind, target, verdict, ai)
        doc_lanes[name] = ls.entry(name, kind, target, verdict, ai)
    text = ls.report_json(session, lanes)
    stamp = json.loads(text)["generated_at"]
    doc = {"contract_version": ls.CONTRACT_VERSION, "session": session, "generated_at": stamp}
    assert text == ls.dump_json({**doc, "lanes": doc_lanes})


def test_a_busy_fleet_computes_no_screen_digest(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The screen digest (a big-integer remainder per pane) is only needed for an idle pane's debounce or
    a hooked pane's reconcile: a busy fleet's poll computes none, and the digest asked later is the same."""
    monkeypatch.setenv("LOOP_LANE_STATUS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LOOP_LANE_HOOK_DIR", str(tmp_path / "hooks"))
    registry = ls.Registry({"codex": {"kind": "ai", "busy_pattern": "spin", "idle_pattern": "READY>"}})
    panes = ls.parse_listing(_listing([(f"%{i}", 3) for i in range(4)]), NONCE)
    screens = {p.pane_id: [f"output {p.pane_id}", "spin (esc)", ""] for p in panes}
    digest_of = ls.digest_of
    calls: list[str] = []

    def counting(text: str) -> str:
        if "spin" in text:  # a screen's (the cache files are named by digests of the socket too)
            calls.append(text)
        return digest_of(text)

    monkeypatch.setattr(ls, "digest_of", counting)
    verdicts = ls.classify_panes(panes, registry, screens)
    assert {(v.status, v.detail) for v in verdicts.values()} == {("working", "busy")}
    assert calls == []
    assert verdicts["%2"].digest == digest_of("output %2\nspin (esc)") and len(calls) == 1
    assert verdicts["%2"].digest == digest_of("output %2\nspin (esc)") and len(calls) == 1  # computed once


def test_a_poll_imports_no_future_module() -> None:
    """`from __future__ import annotations` imports the __future__ module when the code runs: the modules
    a lane-status poll loads (codeboot, codecache, fsread, lane_status) quote what python 3.8 could not
    evaluate instead, and a poll's process never imports it."""
    program = (
        "import sys; sys.path[:0] = [sys.argv[1]]\n"
        "import codeboot, codecache, fsread, lane_status\n"
        "print(sorted(m for m in ('__future__', 'typing', 're', 'os') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", program, str(LIB)], capture_output=True, text=True, check=True
    )
    assert proc.stdout == "[]\n", proc.stdout


_READ_STDIN = """
import sys
sys.path.insert(0, sys.argv[1])
import lane_status as ls
def waiting():
    sys.stdout.write("waiting\\n")
    sys.stdout.flush()
data = ls._read_stdin(waiting)
sys.stdout.write(f"read {len(data)} {data[:6].decode()} {data[-6:].decode()}\\n")
"""


def test_the_work_ahead_runs_only_while_the_answer_has_not_arrived(tmp_path: Path) -> None:
    """_read_stdin (Prefetch.read's stdin): the work handed to it runs while nothing has arrived (tmux is
    still capturing: the work is off the poll's critical path), never once the answer is there (it would
    only delay the answer's use); the answer is read whole either way."""
    answer = b"first-" + b"x" * 200_000 + b"-last!"
    # nothing there yet: the work runs first, then the whole answer is read
    proc = subprocess.Popen(
        [sys.executable, "-S", "-c", _READ_STDIN, str(LIB)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert select.select([proc.stdout], [], [], 30)[0], "the work ahead did not run"
        assert proc.stdout.readline() == b"waiting\n"
    except AssertionError:
        proc.kill()
        raise
    proc.stdin.write(answer)
    proc.stdin.close()
    assert proc.stdout.read() == f"read {len(answer)} first- -last!\n".encode()
    assert proc.wait() == 0
    # the answer is already there (a pipe its writer filled and closed): read at once, no work
    path = tmp_path / "answer"
    path.write_bytes(answer)
    for stdin in (path, Path("/dev/null")):
        with stdin.open("rb") as fh:
            out = subprocess.run(
                [sys.executable, "-S", "-c", _READ_STDIN, str(LIB)], stdin=fh, capture_output=True, check=True
            )
        size = len(answer) if stdin == path else 0
        tail = " first- -last!" if size else "  "
        assert out.stdout == f"read {size}{tail}\n".encode(), out.stderr


def test_the_work_ahead_runs_while_the_rest_of_the_answer_is_coming() -> None:
    """tmux sends its answer as each command runs (the listing first, then the captures): when part of
    it has arrived but not its end, the work handed to _read_stdin still runs before the rest is read
    (the rest comes while it runs), and the answer is read whole."""
    part, rest = b"first-" + b"x" * 1000, b"y" * 200_000 + b"-last!"
    read_end, write_end = os.pipe()
    os.write(write_end, part)  # there before the reader starts
    try:
        proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _READ_STDIN, str(LIB)], stdin=read_end, stdout=subprocess.PIPE
        )
    finally:
        os.close(read_end)
    assert proc.stdout is not None
    with os.fdopen(write_end, "wb") as writer:
        try:
            assert select.select([proc.stdout], [], [], 30)[0], "the work ahead did not run"
            assert proc.stdout.readline() == b"waiting\n"
        except AssertionError:
            proc.kill()
            proc.wait()
            raise
        writer.write(rest)
    assert proc.stdout.read() == f"read {len(part) + len(rest)} first- -last!\n".encode()
    assert proc.wait() == 0


def test_the_answer_is_read_up_to_its_end_marker_not_to_the_end_of_input() -> None:
    """The tmux client closes its output only when it has exited, after the whole answer was sent: the
    read stops at the answer's end marker line (its header's nonce) with the client's pipe still open.
    Input that is not a prefetch answer, or an end marker with another nonce, is read to its end."""
    nonce = "ab" * 12
    answer = f"lls2 {nonce} 1\nlisting\nlls2-{nonce}-list\n".encode() + b"row\n" * 30_000
    answer += f"lls2-{nonce}-end\n".encode()

    def read(data: bytes, wait: float) -> "tuple[bool, bytes]":
        read_end, write_end = os.pipe()
        proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _READ_STDIN, str(LIB)], stdin=read_end, stdout=subprocess.PIPE
        )
        os.close(read_end)
        assert proc.stdout is not None
        with os.fdopen(write_end, "wb") as writer:
            writer.write(data)
            writer.flush()
            line = b"waiting\n"  # the work ahead may run (the answer comes in two writes)
            while line == b"waiting\n" and select.select([proc.stdout], [], [], wait)[0]:
                line = proc.stdout.readline()
            done = line.startswith(b"read ")  # read with the pipe still open
        out = (line if done else b"") + proc.stdout.read()
        proc.wait()
        return done, out.replace(b"waiting\n", b"")

    assert read(answer, 30) == (True, f"read {len(answer)} lls2 a b-end\n\n".encode())
    other = answer.replace(f"{nonce}-end".encode(), b"cd" * 12 + b"-end")
    assert read(other, 1) == (False, f"read {len(other)} lls2 a d-end\n\n".encode())


def test_a_debounce_file_read_ahead_is_used_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOP_LANE_STATUS_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("LOOP_LANE_STATUS_NO_CACHE", raising=False)
    ls.DebounceCache.preload("/sock")
    ahead = ls.DebounceCache.for_socket("/sock")
    assert ahead.socket == "/sock" and ls.DebounceCache.for_socket("/sock") is not ahead  # read anew
    ls.DebounceCache.preload("/other")
    assert ls.DebounceCache.for_socket("/sock").socket == "/sock"  # another server's is not taken
    assert ls.DebounceCache.for_socket("/other").socket == "/other"


def _memo_registry() -> SimpleNamespace:
    """A Registry's surface screen_verdict reads: two harnesses' patterns (one reads the pane title too),
    each made once, as one call's Registry makes them."""
    plain = _counting_patterns()

    class Pats:  # hashed by identity, as ls.Patterns is (SimpleNamespace is not hashable)
        def __init__(self, title_busy: ls.RowMatcher | None) -> None:
            for k in ("idle", "approval", "busy", "error", "welcome"):
                setattr(self, k, ls.RowMatcher(getattr(plain, k).compiled))
            self.title_busy = title_busy

    def matchers(title_busy: ls.RowMatcher | None) -> Pats:
        return Pats(title_busy)

    made = {"a": matchers(None), "b": matchers(ls.RowMatcher(re.compile("⠋")))}
    return SimpleNamespace(
        patterns=lambda harness, tagged=False: made[harness or "a"],
        home=None,
        tail=15,
        ai_harness=lambda opt, commands: opt or None,
    )


_MEMO_REGISTRY = _memo_registry()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(_ROWS, max_size=8), st.sampled_from(["", "⠋ working", "idle"]), st.sampled_from("ab")
        ),
        max_size=8,
    )
)
def test_a_repeated_screen_gets_the_verdict_its_own_reading_gives(
    panes: list[tuple[list[str], str, str]],
) -> None:
    """screen_verdict answers a tail it read before (same harness patterns, home matcher and title) from
    its memo: every verdict is still the one classify_screen gives that pane's own rows and title."""
    registry = _MEMO_REGISTRY  # shared by every example: the memo carries answers across them
    for rows, title, harness in panes:
        pane = SimpleNamespace(harness_opt=harness, command="node", title=title)
        got = ls.screen_verdict(pane, rows, registry)  # type: ignore[arg-type]
        want = ls.classify_screen(ls.live_tail(rows), registry.patterns(harness, True), None, title)
        assert (got.status, got.detail) == want
        assert got.digest == ls.digest_of("\n".join(ls.live_tail(rows)))


def test_a_fleet_of_one_screen_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many panes showing the very same tail (idle agents of one harness) are classified once; another
    title or another harness's patterns is another reading."""
    registry = _memo_registry()
    seen: list[tuple[str, ...]] = []
    real = ls.classify_screen

    def counting(rows: list[str], pats: object, home: object, title: str = "") -> tuple[str, str | None]:
        seen.append(tuple(rows))
        return real(rows, pats, home, title)  # type: ignore[arg-type]

    monkeypatch.setattr(ls, "classify_screen", counting)
    screen = ["Welcome", "text", "READY>"]
    verdicts = [
        ls.screen_verdict(SimpleNamespace(harness_opt="a", command="node", title=""), screen, registry)  # type: ignore[arg-type]
        for _ in range(24)
    ]
    assert len(seen) == 1 and {(v.status, v.detail) for v in verdicts} == {("idle", "ready")}
    busy = ls.screen_verdict(SimpleNamespace(harness_opt="b", command="node", title="⠋ x"), screen, registry)  # type: ignore[arg-type]
    plain_b = ls.screen_verdict(SimpleNamespace(harness_opt="b", command="node", title=""), screen, registry)  # type: ignore[arg-type]
    assert len(seen) == 3 and (busy.status, plain_b.status) == ("working", "idle")
