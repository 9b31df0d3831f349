"""The gate: every action of a decision is classified by its SHAPE as safe, destructive or blocked.

- blocked, always, in every approval mode and even after a human approves: anything aimed at the
  coord lane, a target that is not a plain lane name, an unknown kind, and any text that MEANS a human's
  call (see `human_only_problems`): accepting, rejecting or superseding an ADR, writing a file in the ADR
  folder, a `status:` verdict line for an ADR, marking a task done, dropping or reopening it (any
  `loop-task done|drop|reopen`); a verify, build or merge aimed at a lane with no ledger branch (not a
  worktree lane). Texts are read as a shell reads them (shellwords.read_commands) before
  they are matched, so no spelling hides the meaning.
- destructive (runs only in `full` mode or after a human approves): any raw command (a dispatch or
  steer in command mode, add_lane with cmd or with a non-agent harness), text pasted into a pane that
  does not run an AI agent (a bare shell, a command, a dead pane, a lane we cannot see) — such text IS a
  command —, an add_lane with auto-approve, drop_lane of a base lane, anything over the `destructive`
  caps, a payload with control characters (they could end a bracketed paste) or matching a payload pattern,
  and every merge. An escalation and a merge are always destructive, and only a human's approval runs
  them, in every mode, `full` too (HUMAN_APPROVAL_KINDS: an escalation asks a human, so a cycle never
  answers it on the human's behalf).
- safe: everything else (text to an idle-able agent lane, an agent lane added without auto-approve,
  a worker lane dropped, stop, a verify or a build of a worktree lane).

The classification only ever moves an action UP (safe → destructive → blocked): no field of an action
and no context can make a destructive shape safe -- with one exception a human switches on in the config,
default off: `engine.gate.sandboxed_text_safe: true` lets text (mode text) to a SANDBOXED lane pass the
payload patterns and the "not an AI agent" rule (what it makes the lane do stays inside its bubblewrap
sandbox, out of reach of the gates). Blocked meanings, control characters, raw commands and the caps
still apply there. See SECURITY.md "Sandboxed lanes" for the trade-off.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from loop_engine.shellwords import (
    Command,
    clean_text,
    decode_ansi_c,
    flatten,
    is_decoder,
    program_name,
    read_commands,
)

GateClass = Literal["safe", "destructive", "blocked"]
_RANK: dict[str, int] = {"safe": 0, "destructive": 1, "blocked": 2}

LANE_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")  # fullmatch: `$` would accept a trailing newline
# Any C0 control character other than tab and newline, DEL, and C1 controls: ESC can end a bracketed
# paste early and turn the rest of the payload into keystrokes.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
COORD = "coord"
KINDS = (
    "dispatch",
    "add_lane",
    "drop_lane",
    "steer",
    "stop",
    "escalate",
    "repin_model",
    "verify",
    "build",
    "merge",
)
# Kinds only a human's approval runs: never a cycle, whatever the approval mode (see `runnable`).
HUMAN_APPROVAL_KINDS = frozenset({"repin_model", "escalate", "merge"})
# The verify drive's kinds (contract-later §10): aimed at a worktree lane (a ledger branch), no pane needed.
DRIVE_KINDS = frozenset({"verify", "build", "merge"})
WINDOW_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]+")  # fullmatch (the decision model's WINDOW_PATTERN)
# Every text of an action the engine sends anywhere (a pane, loop-tmux's argv, a window option).
SENT_FIELDS = ("payload", "brief", "cmd", "model", "role")

# Always on, whatever the config adds: shapes of commands nobody wants run unattended.
BUILTIN_PAYLOAD_PATTERNS: tuple[str, ...] = (
    r"\brm\s+-[a-z]*r[a-z]*f|\brm\s+-[a-z]*f[a-z]*r",
    r"\bgit\s+push\b[^\n]*(?:\s-f\b|--force)",
    r"\bgit\s+reset\s+--hard\b",
    r"\bgit\s+clean\s+-[a-z]*f",
    r"\bdrop\s+(?:table|database|schema)\b",
    r"\btruncate\s+table\b",
    r"\bmkfs\b",
    r"\bdd\s+if=",
    r":\(\)\s*\{\s*:\|:&\s*\};:",
    r"\b(?:curl|wget)\b[^\n|]*\|\s*(?:sudo\s+)?(?:ba|z|k)?sh\b",
    r"\bsudo\b",
    r"\bchmod\s+-R\s+0?777\b",
    r"--force\b",
    r"--no-verify\b",
    r"\bkubectl\s+delete\b",
    r"\bterraform\s+(?:apply|destroy)\b",
)


BASE_LANES = frozenset(
    {
        "coord",
        "web",
        "infra",
        "validate",
        "validate-left",
        "validate-right",
        "ops",
        "ops-top",
        "ops-bottom",
        "docs",
    }
)


@dataclass(frozen=True)
class LaneFacts:
    """What the gate needs to know about one lane of the live fleet."""

    name: str
    base: bool
    agent: bool  # its pane runs an AI agent (not a bare shell, a command or a dead pane)
    window_exists: bool = True
    sandboxed: bool = False  # its pane runs under bubblewrap (loop-tmux add-lane --sandbox)


@dataclass(frozen=True)
class GateContext:
    """What the gate judges a decision's actions against: the lanes, the limits, the protected places."""

    lanes: Mapping[str, LaneFacts]
    ai_harnesses: frozenset[str]
    max_dispatches_per_cycle: int = 4
    max_lanes: int = 12
    payload_patterns: Sequence[str] = ()
    base_lanes: frozenset[str] = BASE_LANES
    adr_dirs: tuple[str, ...] = ("docs/adr",)
    tasks_dir: str = "tasks"
    sandboxed_text_safe: bool = False  # engine.gate.sandboxed_text_safe (see the module docstring)
    # the windows with a ledger branch (worktree lanes); None: not known here (the executor checks itself)
    ledger_branches: frozenset[str] | None = None


@dataclass(frozen=True)
class GateVerdict:
    """One action's gate class and the reasons for it."""

    gate: GateClass
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "reasons": list(self.reasons)}


class _Verdict:
    def __init__(self) -> None:
        self.gate: GateClass = "safe"
        self.reasons: list[str] = []

    def raise_to(self, gate: GateClass, reason: str) -> None:
        if _RANK[gate] > _RANK[self.gate]:
            self.gate = gate
        if _RANK[gate] > 0:
            self.reasons.append(f"{gate}: {reason}")

    def freeze(self) -> GateVerdict:
        return GateVerdict(self.gate, tuple(self.reasons))


def _get(action: Any, name: str) -> Any:
    if isinstance(action, Mapping):
        return action.get(name)
    return getattr(action, name, None)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _is_coord(target: str) -> bool:
    head = re.split(r"[.:]", target.strip().lstrip("="), maxsplit=1)[0]
    return head.lower() == COORD or target.strip().lower().startswith(COORD)


# ---------------------------------------------------------------------------- human-only meanings
# loop-adr verbs that record a human's verdict on an ADR (loop-adr refuses all three inside an AI lane);
# `new`, `list`, `show` are what lanes use.
ADR_VERDICT_VERBS = frozenset({"accept", "reject", "supersede"})
LOOP_TASK_VERBS = frozenset({"done", "drop", "reopen"})  # loop-task's verbs: every one is a human's call
ADR_OTHER_VERBS = frozenset({"new", "list", "show", "help"})
_ADR_VALUE_OPTIONS = frozenset({"--adr-dir", "--project-root", "--by"})
_ADR_STATUS_RE = re.compile(r"\bstatus\s*:\s*[\"']?\s*(?:accepted|rejected|superseded|deprecated)\b")
_TASK_DONE_STATUS_RE = re.compile(r"\bstatus\s*:\s*[\"']?\s*done\b")
_DONE_RE = re.compile(r"\bdone\b")
_ADR_NAME_RE = re.compile(r"\d{4}(?:-[^/]*)?\.md")
_TASK_NAME_RE = re.compile(r"t\d{4}(?:-[^/]*)?\.md")
_PUNCT = ".,;:!?)\"'`]}>"
# Programs that write the files named in their arguments, by how they name them.
_IN_PLACE = frozenset({"sed", "gsed", "perl", "ruby", "awk", "gawk"})  # with -i (awk: -i inplace)
_WRITE_ALL_ARGS = frozenset({"tee", "sponge", "ed", "ex", "vi", "vim", "nvim", "nano", "emacs", "patch"})
_COPIERS = frozenset({"cp", "gcp", "mv", "gmv", "install", "ln", "rsync", "scp", "ditto"})
_INTERPRETERS = frozenset(
    {
        "python",
        "python2",
        "python3",
        "node",
        "nodejs",
        "deno",
        "bun",
        "ruby",
        "perl",
        "php",
        "pwsh",
        "osascript",
    }
)
_EXECUTORS = frozenset(
    {"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "eval", "source", ".", *_INTERPRETERS}
)
_GIT_WRITERS = frozenset({"mv", "checkout", "restore", "apply", "am", "cherry-pick", "revert", "merge"})


def _strip(word: str) -> str:
    return word.strip(_PUNCT).lower()


def _components(cwd: Sequence[str], word: str) -> tuple[str, ...]:
    """The path a word names, as lower-case components, relative to where the text starts (or from /)."""
    word = word.strip().lower()
    if word.startswith(("/", "~")):
        raw: list[str] = ["/"]
    else:
        raw = [c.lower() for c in cwd]
    raw.extend(p for p in word.split("/") if p)
    out: list[str] = []
    for comp in raw:
        if comp == ".":
            continue
        if comp == ".." and out and out[-1] not in ("..", "/"):
            out.pop()
            continue
        out.append(comp)
    return tuple(out)


def _dir_parts(path: str) -> tuple[str, ...]:
    return tuple(p for p in path.strip().lower().split("/") if p and p != ".")


def _within(comps: tuple[str, ...], folder: tuple[str, ...]) -> bool:
    """Whether the path (glob characters allowed in it) is `folder` or below it, wherever folder sits."""
    k = len(folder)
    if not k:
        return False
    for i in range(len(comps) - k + 1):
        if all(_component_matches(comps[i + j], folder[j]) for j in range(k)):
            return True
    return False


def _component_matches(pattern: str, name: str) -> bool:
    if pattern == name:
        return True
    return any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(name, pattern)


@dataclass(frozen=True)
class _Places:
    """The ADR folders and the tasks folder, as path components."""

    adr_dirs: tuple[tuple[str, ...], ...]
    tasks: tuple[str, ...]

    def adr(self, comps: tuple[str, ...]) -> bool:
        if any(_within(comps, d) for d in self.adr_dirs):
            return True
        return bool(comps) and _ADR_NAME_RE.fullmatch(comps[-1]) is not None

    def task(self, comps: tuple[str, ...]) -> bool:
        if _within(comps, (*self.tasks, "archive")):
            return True
        return bool(comps) and _TASK_NAME_RE.fullmatch(comps[-1]) is not None

    def adr_record(self, comps: tuple[str, ...]) -> bool:
        """A path naming one record (a file below the ADR folder, or a `NNNN-*.md` name)."""
        if any(_within(comps[:-1], d) for d in self.adr_dirs):
            return True
        return bool(comps) and _ADR_NAME_RE.fullmatch(comps[-1]) is not None

    @staticmethod
    def task_record(comps: tuple[str, ...]) -> bool:
        return bool(comps) and _TASK_NAME_RE.fullmatch(comps[-1]) is not None

    def archive(self, comps: tuple[str, ...]) -> bool:
        return _within(comps, (*self.tasks, "archive"))


@dataclass
class _Meaning:
    """What one simple command does, any of its words taken as where the command starts (prose)."""

    verdicts: list[str] = field(default_factory=list)
    task_verbs: list[str] = field(default_factory=list)
    written: dict[int, bool] = field(default_factory=dict)  # word index -> content from elsewhere
    scripts: list[str] = field(default_factory=list)


def _read_command(words: Sequence[str], stdin_texts: Sequence[str]) -> _Meaning:
    """One pass (linear in the words: a 16 KiB text of `sed sed sed …` costs no more than prose)."""
    n = len(words)
    names = [program_name(w) for w in words]
    stripped = [_strip(w) for w in words]
    plain = [not w.startswith("-") for w in words]
    # the next positional word at or after i (options and loop-adr's option values skipped), the next
    # verdict verb at or after i, and whether an in-place flag comes at or after i
    positional = [n] * (n + 2)
    verdict: list[str | None] = [None] * (n + 1)
    in_place = [False] * (n + 1)
    awk_in_place = [False] * (n + 1)
    task_verb: list[str | None] = [None] * (n + 1)  # the next loop-task verb at or after i
    for i in range(n - 1, -1, -1):
        w = stripped[i]
        if w in _ADR_VALUE_OPTIONS:
            positional[i] = positional[min(i + 2, n)]
        elif w.startswith("-"):
            positional[i] = positional[i + 1]
        else:
            positional[i] = i
        verdict[i] = w if w in ADR_VERDICT_VERBS else verdict[i + 1]
        flag = words[i].startswith("-") and (
            (not words[i].startswith("--") and "i" in words[i][1:]) or words[i].startswith("--in-place")
        )
        in_place[i] = flag or in_place[i + 1]
        awk_in_place[i] = words[i] == "inplace" or awk_in_place[i + 1]
        task_verb[i] = w if w in LOOP_TASK_VERBS else task_verb[i + 1]
    out = _Meaning()
    all_from: dict[bool, int] = {}  # first start whose every later plain word is written, by wholesale

    def from_(k: int, wholesale: bool) -> None:
        all_from[wholesale] = min(all_from.get(wholesale, n), k)

    copier = dd = n
    interp: int | None = None
    for k, name in enumerate(names):
        if name == "loop-adr":
            p = positional[k + 1] if k + 1 <= n else n
            first = stripped[p] if p < n else None
            if first in ADR_VERDICT_VERBS:
                out.verdicts.append(first)
            elif first is not None and first not in ADR_OTHER_VERBS and p + 1 <= n and verdict[p + 1]:
                out.verdicts.append(str(verdict[p + 1]))
        elif name == "loop-task" and task_verb[min(k + 1, n)]:
            out.task_verbs.append(str(task_verb[min(k + 1, n)]))
        elif name in _WRITE_ALL_ARGS or (
            name in _IN_PLACE and (awk_in_place if name in ("awk", "gawk") else in_place)[min(k + 1, n)]
        ):
            from_(k + 1, False)
        elif name in _COPIERS:
            copier = min(copier, k + 1)
            if name in ("mv", "gmv"):  # moving a record away is writing its folder too
                from_(k + 1, True)
        elif name == "dd":
            dd = min(dd, k + 1)
        elif name == "git":
            p = positional[k + 1] if k + 1 <= n else n
            if p < n and stripped[p] in _GIT_WRITERS:
                from_(p + 1, True)
        elif name in _INTERPRETERS and interp is None:
            interp = k + 1
    for wholesale, k in sorted(all_from.items()):
        for i in range(k, n):
            if plain[i]:
                out.written[i] = out.written.get(i, False) or wholesale
    if copier < n:
        last = max((i for i in range(copier, n) if plain[i]), default=None)
        if last is not None:
            out.written[last] = True
        for i in range(copier, n):
            if words[i] == "-t" and i + 1 < n:
                out.written[i + 1] = True
            elif words[i].startswith("--target-directory="):
                out.written[i] = True
    for i in range(dd, n):
        if words[i].lower().startswith("of="):
            out.written[i] = True
    if interp is not None:
        for i in range(interp, n):
            if words[i] in ("-c", "-e", "-E", "--eval", "-r") and i + 1 < n:
                out.scripts.append(words[i + 1])
            elif plain[i] and " " in words[i]:  # `python3 "code; code"` forms
                out.scripts.append(words[i])
        out.scripts.extend(stdin_texts)
    return out


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def human_only_problems(text: str, ctx: GateContext) -> list[str]:
    """Why a text means a human's call (empty when it does not). The text is read as a shell would read
    it, every command of every reading and nesting, each word position tried as a command start (prose)."""
    if not text:
        return []
    places = _Places(tuple(_dir_parts(d) for d in ctx.adr_dirs if _dir_parts(d)), _dir_parts(ctx.tasks_dir))
    env = {"LOOP_ADR_DIR": ctx.adr_dirs[0]} if ctx.adr_dirs else {}
    commands = read_commands(text, env)
    flat = flatten(commands)
    views = [s.lower() for s in {clean_text(text), flat, decode_ansi_c(flat)}]
    problems: list[str] = []

    def add(reason: str) -> None:
        if reason not in problems:
            problems.append(reason)

    def refs() -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []
        for cmd in commands:
            out.extend(_components(cmd.cwd, w) for w in (*cmd.words, *(t for _, t in cmd.redirects)))
            if cmd.cwd:
                out.append(_components(cmd.cwd, "."))
        return out

    says_done = any(_DONE_RE.search(v) for v in views)
    squashed_adr = [_squash("/".join(d)) for d in places.adr_dirs]

    for cmd in commands:
        written: list[tuple[str, bool]] = [
            (t, False) for op, t in cmd.redirects if op in (">", ">>", ">|", "&>", "&>>", "<>")
        ]
        meaning = _read_command(cmd.words, cmd.stdin_texts)
        for verb in meaning.verdicts:
            add(f"runs `loop-adr {verb}`: an ADR's verdict is a human's call")
        for verb in meaning.task_verbs:
            if verb == "done":
                add("runs `loop-task done`: marking a task done is a human's call")
            else:
                add(f"runs `loop-task {verb}`: dropping or reopening a task is a human's call")
        for script in meaning.scripts:
            if any(sq and sq in _squash(script) for sq in squashed_adr):
                add("runs a program that names the ADR folder: an ADR's status is a human's call")
        written.extend((cmd.words[i], wholesale) for i, wholesale in sorted(meaning.written.items()))
        for word, wholesale in written:
            comps = _components(cmd.cwd, word)
            if places.adr(comps):
                add(f"writes {word!r} in the ADR folder: an ADR's status is a human's call")
            elif places.archive(comps):
                add(f"moves or writes {word!r} into the task archive: a task is done by a human")
            elif places.task(comps) and (wholesale or says_done):
                add(f"writes task file {word!r} with `done`: marking a task done is a human's call")
        names = [program_name(w) for w in cmd.words]
        if cmd.decoded_input and (not cmd.words or any(n in _EXECUTORS for n in names)):
            add("runs text it decodes only at run time: the gate cannot read it")
    by_pipe: dict[int, list[Command]] = {}
    for cmd in commands:
        by_pipe.setdefault(cmd.pipeline, []).append(cmd)
    for pipe in by_pipe.values():
        decoded = False
        for cmd in pipe:
            names = [program_name(w) for w in cmd.words]
            if decoded and any(n in _EXECUTORS for n in names):
                add("runs text it decodes only at run time: the gate cannot read it")
            decoded = decoded or is_decoder(cmd.words)
    # prose: a `status:` line together with one record it would go into (a folder alone is no record: a
    # task about how `status: done` tasks move to tasks/archive/ is work, not a verdict)
    if any(_ADR_STATUS_RE.search(v) for v in views) and any(places.adr_record(c) for c in refs()):
        add("names an ADR and a `status:` verdict line: an ADR's status is a human's call")
    if any(_TASK_DONE_STATUS_RE.search(v) for v in views) and any(places.task_record(c) for c in refs()):
        add("names a task and `status: done`: marking a task done is a human's call")
    return problems


def adr_dirs(project_root: Path, environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The ADR folders a text may name: docs/adr, and LOOP_ADR_DIR when set (as given, and relative to the
    project root when it lies inside it)."""
    env = os.environ if environ is None else environ
    dirs = ["docs/adr"]
    configured = env.get("LOOP_ADR_DIR", "").strip()
    if configured:
        dirs.append(configured)
        path = Path(configured)
        if path.is_absolute() and path.is_relative_to(project_root):
            dirs.append(str(path.relative_to(project_root)))
    return tuple(dict.fromkeys(d for d in dirs if d not in ("", ".")))


def compile_patterns(patterns: Iterable[str]) -> list[re.Pattern[str]]:
    """Config patterns are regexes; one that does not compile is matched literally instead."""
    out: list[re.Pattern[str]] = []
    for pat in (*BUILTIN_PAYLOAD_PATTERNS, *patterns):
        try:
            out.append(re.compile(pat, re.IGNORECASE))
        except re.error:
            out.append(re.compile(re.escape(pat), re.IGNORECASE))
    return out


def gate_actions(actions: Sequence[Any], ctx: GateContext) -> list[GateVerdict]:
    """Classify each action of one decision (caps count across the whole decision)."""
    patterns = compile_patterns(ctx.payload_patterns)
    verdicts: list[GateVerdict] = []
    text_sends = 0
    lanes_after = sum(1 for facts in ctx.lanes.values() if facts.window_exists)
    for action in actions:
        v = _Verdict()
        kind = _text(_get(action, "kind"))
        if kind not in KINDS:
            v.raise_to("blocked", f"unknown action kind {kind!r}")
            verdicts.append(v.freeze())
            continue
        texts = [_text(_get(action, key)) for key in SENT_FIELDS]
        for text in texts:
            for problem in human_only_problems(text, ctx):
                v.raise_to("blocked", problem)
        target = _text(
            _get(action, "lane")
            if kind in ("dispatch", "steer", "verify", "merge")
            else _get(action, "window")
        )
        if kind in DRIVE_KINDS:
            _drive_target(v, kind, target, ctx)
        if kind in ("dispatch", "steer", "add_lane", "drop_lane"):
            if not target or _is_coord(target):
                v.raise_to("blocked", "aimed at the coord lane" if target else "no target lane")
            elif not LANE_NAME_RE.fullmatch(target):
                v.raise_to("blocked", f"target {target!r} is not a plain lane name")
        for text in texts:
            if text and CONTROL_RE.search(text):
                v.raise_to("destructive", "control characters in the text")
                break
        facts = ctx.lanes.get(target) if kind in ("dispatch", "steer") else None
        mode = _text(_get(action, "mode") or "text")
        # text to a sandboxed lane, when the human switched that on: it runs inside the sandbox
        contained = ctx.sandboxed_text_safe and facts is not None and facts.sandboxed and mode == "text"
        for text in texts if not contained else ():
            readings = (text, flatten(read_commands(text))) if text else ()
            hit = next((p.pattern for p in patterns for r in readings if p.search(r)), None)
            if hit is not None:
                v.raise_to("destructive", f"matches payload pattern {hit!r}")
                break
        if kind in ("dispatch", "steer"):
            if mode != "text":
                v.raise_to("destructive", f"a raw command (mode {mode})")
            if facts is None:
                v.raise_to("destructive", f"lane {target!r} is not in the observed fleet")
            elif not facts.agent and not contained:
                v.raise_to(
                    "destructive", f"lane {target!r} does not run an AI agent: text there is a command"
                )
            text_sends += 1
            if text_sends > ctx.max_dispatches_per_cycle:
                v.raise_to("destructive", f"over max_dispatches_per_cycle ({ctx.max_dispatches_per_cycle})")
        elif kind == "add_lane":
            if _text(_get(action, "cmd")):
                v.raise_to("destructive", "add_lane with a raw cmd")
            harness = _text(_get(action, "harness"))
            if not harness and not _text(_get(action, "cmd")):
                v.raise_to("destructive", "add_lane with neither harness nor cmd")
            elif harness and harness not in ctx.ai_harnesses:
                v.raise_to("destructive", f"harness {harness!r} is not an AI agent")
            if _get(action, "auto_approve"):
                v.raise_to("destructive", "auto-approve lets the agent run commands unattended")
            if target in ctx.lanes:
                v.raise_to("destructive", f"a lane named {target!r} already exists")
            lanes_after += 1
            if lanes_after > ctx.max_lanes:
                v.raise_to("destructive", f"over max_lanes ({ctx.max_lanes})")
        elif kind == "repin_model":
            v.raise_to("destructive", "re-pins the model a harness uses: only a human's approval runs it")
        elif kind == "escalate":
            v.raise_to("destructive", "an escalation asks a human: only a human's approval runs it")
        elif kind == "drop_lane":
            facts = ctx.lanes.get(target)
            if target in ctx.base_lanes or facts is None or facts.base:
                v.raise_to("destructive", f"drops {target!r}, a base lane or one we cannot see")
        verdicts.append(v.freeze())
    return verdicts


def _drive_target(v: _Verdict, kind: str, target: str, ctx: GateContext) -> None:
    """verify / build / merge: a plain lane name, not coord, with a ledger branch (it may have no pane);
    a merge is always destructive (only a human's approval runs it: HUMAN_APPROVAL_KINDS)."""
    if not target or _is_coord(target):
        v.raise_to("blocked", "aimed at the coord lane" if target else "no target lane")
    elif not WINDOW_NAME_RE.fullmatch(target):
        v.raise_to("blocked", f"target {target!r} is not a plain lane name")
    elif ctx.ledger_branches is not None and target not in ctx.ledger_branches:
        v.raise_to(
            "blocked", f"lane {target!r} has no ledger branch (not a worktree lane): nothing to {kind}"
        )
    if kind == "merge":
        v.raise_to("destructive", "merges a lane's branch into the base: only a human's approval runs it")


def runnable(gate: str, approval: str, kind: str | None = None) -> bool:
    """Whether an action of this gate class (and kind) runs without a human in this approval mode."""
    if gate == "blocked" or kind in HUMAN_APPROVAL_KINDS:
        return False
    if approval == "full":
        return True
    if approval == "auto":
        return gate == "safe"
    return False
