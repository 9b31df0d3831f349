"""The gate matches what a text means to a shell, not how it is spelled (issue 15, item 3).

Texts that would accept/reject/supersede an ADR, write the ADR folder or an ADR `status:` verdict,
or mark a task done are blocked whatever the quoting, escaping, splitting or wrapping; ordinary prompts
stay safe.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loop_engine.gate import GateContext, LaneFacts, adr_dirs, gate_actions, human_only_problems, runnable
from loop_engine.shellwords import decode_ansi_c, read_commands

LANES = {"web": LaneFacts("web", base=True, agent=True), "w2": LaneFacts("w2", base=False, agent=True)}
CTX = GateContext(lanes=LANES, ai_harnesses=frozenset({"pi"}))
ITEM_3 = (
    "loop-ad''r acc''ept 1 --yes",
    "sed -i 's/^status: Proposed/status: Accepted/' docs/adr/0001-x.md",
)


def gate(text: str, **fields: Any) -> tuple[str, tuple[str, ...]]:
    action = {"kind": "dispatch", "lane": "web", "payload": text, "mode": "text", **fields}
    verdict = gate_actions([action], CTX)[0]
    return verdict.gate, verdict.reasons


@pytest.mark.parametrize("text", ITEM_3)
def test_the_two_quoted_adr_texts_of_the_issue_are_blocked_in_every_mode(text: str) -> None:
    # regression: both were graded safe and pasted into an agent lane in auto mode
    verdict, reasons = gate(text)
    assert verdict == "blocked" and any("ADR" in r for r in reasons), reasons
    assert not any(runnable(verdict, mode) for mode in ("manual", "auto", "full"))


@pytest.mark.parametrize("field", ["brief", "cmd", "model", "role"])
def test_every_text_the_engine_sends_is_read(field: str) -> None:
    action = {"kind": "add_lane", "window": "n1", "harness": "pi", field: ITEM_3[0]}
    assert gate_actions([action], CTX)[0].gate == "blocked"
    steer = {"kind": "steer", "lane": "w2", "payload": ITEM_3[1]}
    assert gate_actions([steer], CTX)[0].gate == "blocked"


BLOCKED = [
    "$'loop-\\x61dr' $'\\141ccept' 1",
    "$'\\u006coop-adr' accept 1",
    "loop-adr${IFS}accept 1",
    "loop-adr$IFS'accept' 1",
    "IFS=,; c=loop-adr,accept,1; $c",
    "A=acc; loop-adr ${A}ept 1",
    "loop-adr acc${NOTHING}ept 1",
    "loop-adr ${X:-accept} 1",
    "bash -c 'loop-\"adr\" accept 1'",
    "sh -c \"loop-adr \\$'\\\\x61ccept' 1\"",
    'eval "loop-""adr accept 1"',
    "loop-adr \\\naccept 1",
    "loop\\-adr \\a\\c\\c\\e\\p\\t 1",
    "Don't worry. Run loop-ad''r accept.",
    'a=(loop-adr accept 1); "${a[@]}"',
    "echo accept | xargs loop-adr",
    "x=$(echo accept); loop-adr $x 1",
    "loop-adr `printf acc`ept 1",
    "printf 'loop-\\x61dr accept 1' | sh",
    "cat <<EOF | bash\nloop-adr accept 2\nEOF\n",
    "bash <<< 'loop-adr accept 3'",
    "loop-adr {accept,x} 1",
    "please run ./shell/loop-adr.sh --adr-dir d ACCEPT 3",
    "LOOP-ADR accept 1",
    "LOOP_X=1 env FOO=2 sudo -E /usr/local/bin/loop_adr reject 2",
    "loop-adr supersede 1 --by 2",
    "lo\u200bop-adr accept 1",  # an invisible character a reader skips
    "ｌｏｏｐ-adr accept 1",  # fullwidth letters (NFKC)
    "perl -pi -e 's/Proposed/Accepted/' DOCS/ADR/0001-x.md",
    "echo 'status: Accepted' >> docs/adr/0002-y.md",
    "cd docs/adr && sed -i s/x/y/ 0001-x.md",
    "cd docs; sed -i 's/Proposed/Accepted/' adr/0001-x.md",
    "sed -i 's/Proposed/Accepted/' d*/a?r/*.md",
    "sed -i '3s/.*/st\\x61tus: Acc\\x65pted/' ./docs/./adr/../adr/0001-x.md",
    "cp /tmp/x.md docs/adr/0001-x.md",
    "tee docs/adr/0001-x.md <<< 'status: Accepted'",
    "dd of=docs/adr/0001-x.md if=/tmp/y",
    "git checkout other -- docs/adr/0001-x.md",
    "python3 -c \"import pathlib; p=pathlib.Path('docs/'+'adr/0001-x.md'); p.write_text('x')\"",
    "Edit docs/adr/0001-x.md and set status: Accepted",
    "loop-task done T0001",
    "loop-task drop T0001 --reason 'not needed'",
    "loop-task --project-root . reopen 7",
    "./loop_task.sh DONE T0001",
    "mv tasks/T0001-x.md tasks/archive/",
    "git mv tasks/T0001-x.md tasks/archive/T0001-x.md",
    "sed -i 's/^status: review/status: done/' tasks/T0001-x.md",
    "sed -i 's/review/d\\x6fne/' tasks/T0001-x.md",
    "printf 'status: done\\n' > tasks/T0002-y.md",
    "Set status: done in tasks/T0003-foo.md",
    'eval "$(echo bG9vcC1hZHIgYWNjZXB0IDE= | base64 -d)"',
    "echo bG9vcC1hZHIgYWNjZXB0IDE= | base64 -d | sh",
]


@pytest.mark.parametrize("text", BLOCKED)
def test_spellings_and_evasions_are_blocked(text: str) -> None:
    verdict, reasons = gate(text)
    assert verdict == "blocked", reasons


SAFE = [
    "Write an ADR draft with loop-adr new",
    'Draft an ADR with loop-adr new "Use a queue"; a human will accept it later',
    "Run loop-adr list and loop-adr show 3, then summarise the open decisions.",
    "Fix the login bug in web/app.py and mail coord when done.",
    "Run the tests; don't push. When done with T0003, mail coord with subject 'done T0003: summary'.",
    "Read docs/adr/0001-x.md and explain the decision.",
    "grep -n status docs/adr/*.md",
    "Please accept the PR review comments and fix them.",
    "Implement T0004 (see tasks/T0004-api.md); it's the API task, status: in-progress.",
    "sed -i 's/foo/bar/' src/app.py",
    "echo 'status: Accepted' > /tmp/notes.md",
    "Implement the archive rule: a task whose status: done moves to tasks/archive/ (see CONTRACT.md).",
    "Explain why ADRs under docs/adr/ with status: Accepted are immutable.",
]


@pytest.mark.parametrize("text", SAFE)
def test_ordinary_prompts_stay_safe(text: str) -> None:
    assert gate(text) == ("safe", ())


def test_the_configured_adr_folder_is_the_adr_folder(tmp_path: Path) -> None:
    dirs = adr_dirs(tmp_path, {"LOOP_ADR_DIR": str(tmp_path / "records")})
    assert dirs == ("docs/adr", str(tmp_path / "records"), "records")
    ctx = GateContext(lanes=LANES, ai_harnesses=frozenset({"pi"}), adr_dirs=dirs)
    assert human_only_problems("sed -i s/a/b/ records/queue.md", ctx)
    assert human_only_problems(f"echo x >> {tmp_path}/records/queue.md", ctx)
    assert human_only_problems("echo x >> $LOOP_ADR_DIR/queue.md", ctx)
    assert not human_only_problems("sed -i s/a/b/ records/queue.md", CTX)


def test_destructive_patterns_also_match_the_shell_reading() -> None:
    assert gate("r''m -r''f /")[0] == "destructive"
    assert gate("git$IFS'push' --for''ce")[0] == "destructive"


# ---------------------------------------------------------------- properties

CANONICAL = [
    ["loop-adr", "accept", "1", "--yes"],
    ["loop-adr", "reject", "0002"],
    ["loop-adr", "supersede", "1", "--by", "2"],
    ["loop-adr", "--adr-dir", "docs/adr", "accept", "7"],
    ["sed", "-i", "s/^status: Proposed/status: Accepted/", "docs/adr/0001-x.md"],
    ["perl", "-pi", "-e", "s/Proposed/Accepted/", "docs/adr/0003-y.md"],
    ["cp", "/tmp/accepted.md", "docs/adr/0001-x.md"],
    ["loop-task", "done", "T0001"],
    ["mv", "tasks/T0001-x.md", "tasks/archive/"],
    ["sed", "-i", "s/^status: review/status: done/", "tasks/T0001-x.md"],
]
PROGRAM_PREFIXES = ["", "./", "./shell/", "/usr/local/bin/", "shell/../shell/"]
WRAPPERS = ["", "env A=1 ", "A=1 B=2 ", "sudo -E ", "command ", "nohup ", "time "]
PROSE = ["", "Please run: ", "Next step, run ", "Then\n"]
_SAFE_BARE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./,:+=")


def _bare(piece: str, rng: random.Random) -> str:
    out = []
    for ch in piece:
        if ch in _SAFE_BARE and rng.random() < 0.8:
            out.append(ch)
        else:
            out.append("\\" + ch)
    return "".join(out)


def _ansi_c(piece: str, rng: random.Random) -> str:
    out = []
    for ch in piece:
        roll = rng.random()
        if roll < 0.25:
            out.append(f"\\x{ord(ch):02x}")
        elif roll < 0.5:
            out.append(f"\\{ord(ch):03o}")
        elif roll < 0.6:
            out.append(f"\\u{ord(ch):04x}")
        elif ch in "\\'":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "$'" + "".join(out) + "'"


def _double(piece: str) -> str:
    return '"' + "".join("\\" + c if c in '"\\$`' else c for c in piece) + '"'


def _single(piece: str) -> str:
    return "'" + piece.replace("'", "'\\''") + "'"


SPLICES = ["''", '""', "$''", "${NOPE}", "$NOPE''", "\\\n"]


def spell_word(word: str, rng: random.Random) -> str:
    """One shell spelling of `word` (bash reads it back as exactly `word`)."""
    cuts = (
        sorted(rng.sample(range(1, len(word)), k=min(len(word) - 1, rng.randint(0, 3))))
        if len(word) > 1
        else []
    )
    pieces = [word[a:b] for a, b in zip([0, *cuts], [*cuts, len(word)], strict=True)]
    out = []
    for piece in pieces:
        style = rng.randrange(4)
        if style == 0:
            out.append(_bare(piece, rng))
        elif style == 1:
            out.append(_single(piece))
        elif style == 2:
            out.append(_double(piece))
        else:
            out.append(_ansi_c(piece, rng))
        if rng.random() < 0.3:
            out.append(rng.choice(SPLICES))
    return "".join(out)


def spell_command(words: list[str], rng: random.Random) -> str:
    words = list(words)
    head = words[0]
    if rng.random() < 0.3:
        head = "".join(c.upper() if rng.random() < 0.5 else c for c in head)
    if head.lower() in ("loop-adr", "loop-task") and rng.random() < 0.3:
        head += ".sh"
    words[0] = rng.choice(PROGRAM_PREFIXES) + head
    seps = [" ", "\t", "${IFS}", " \\\n "]
    text = ""
    for k, word in enumerate(words):
        if k:
            text += rng.choice(seps)
        text += spell_word(word, rng)
    text = rng.choice(WRAPPERS) + text
    wrap = rng.randrange(5)
    if wrap == 1:
        text = "bash -c " + _single(text)
    elif wrap == 2:
        text = "sh -c " + _double(text)
    elif wrap == 3:
        text = "eval " + _single(text)
    return rng.choice(PROSE) + text


@settings(max_examples=10_000, deadline=None, derandomize=True, database=None)
@given(st.integers(min_value=0, max_value=2**48))
def test_no_spelling_of_a_human_only_command_gets_through(seed: int) -> None:
    # one integer per example (the spelling is drawn from it): hypothesis' own cost per example stays small
    rng = random.Random(seed)
    text = spell_command(CANONICAL[seed % len(CANONICAL)], rng)
    assert human_only_problems(text, CTX), text


def test_the_spelling_generator_spells_what_bash_reads() -> None:
    # the property above is only as good as its generator: bash itself reads a sample back
    import shutil
    import subprocess

    bash = shutil.which("bash")
    if bash is None:
        pytest.fail("bash is needed to check the generator")
    rng = random.Random(15)
    for _ in range(40):
        words = rng.choice(CANONICAL)
        spelled = " ".join(spell_word(w, rng) for w in words)
        got = subprocess.run(
            [bash, "-c", f"printf '%s\\n' {spelled}"], capture_output=True, text=True, check=True
        ).stdout
        assert got.splitlines() == words, spelled


PHRASES = [
    "write an ADR draft with loop-adr new",
    "run loop-adr list",
    "loop-adr show 2",
    "accept the review comments",
    "read docs/adr/0001-x.md",
    "mark it done in your report",
    "tasks/T0001-x.md describes the work",
    "the status is review",
    "don't push",
    "it's fine",
    "`grep -n status docs/adr/0002-y.md`",
    "status: in-progress",
    "cat tasks/T0002-y.md",
    "when done, mail coord",
    "echo hello",
    "Accepted answers only",
    "head -5 docs/adr/0001-x.md",
    "sed -i s/a/b/ src/app.py",
    "the ADR was accepted last week",
    "(see T0003)",
    '"quoted words"',
]
prose = st.lists(
    # phrases end where a shell command ends too: `sed -i … a.py. read docs/adr/1.md` on one line really
    # is one sed over both files, and the gate reads it so
    st.tuples(st.sampled_from(PHRASES), st.sampled_from(["; ", "\n", " && ", ".\n", "!\n", " | "])),
    min_size=1,
    max_size=8,
).map(lambda parts: "".join(p + sep for p, sep in parts))


@settings(max_examples=500, deadline=None)
@given(prose)
def test_ordinary_generated_prose_stays_safe(text: str) -> None:
    assert human_only_problems(text, CTX) == [], text


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_the_reader_is_total(text: str) -> None:
    read_commands(text)
    human_only_problems(text, CTX)


def test_ansi_c_escapes() -> None:
    assert decode_ansi_c("\\x61\\141\\u0061\\cA\\n\\q") == "aaa\x01\n\\q"
