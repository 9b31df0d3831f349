#!/usr/bin/env python3
"""demo_agent: a simulated coding agent for the demo loop. No AI: it only pretends, and says so.

Usage: demo_agent.py [--lane NAME] [--project-root DIR] [--work-s SECS] [any other args are ignored]
       demo_agent.py --build WORKTREE [--lane NAME] [--project-root DIR] BRIEF   (one-shot build)
       demo_agent.py --review                                                   (one-shot verify lens)

It runs in a tmux pane like a real harness: an idle prompt, then for each prompt it receives (a bracketed
paste followed by Enter) a few seconds of a busy spinner, then a report to the coordinator written as a
mailbox message (.loop/messages/<stamp>-<lane>-to-coord.md, through mail.py so names never collide):

- a prompt holding a task file (`id: T0001` in its frontmatter) is answered with `task: T0001` and a
  `subject: done T0001: <title>`: a completion report (done-shaped, naming the task, sent after the
  dispatch), the one kind of mail that moves the task to review; only a human marks it done;
- a prompt that asks for a reply with `re:<ask-id>` is answered with `subject: re:<ask-id>` (an answer
  for the coordinator: it moves no task);
- anything else gets `subject: demo report` (a note for the coordinator: it moves no task);
- except the engine's ingest nudge (a prompt starting `Ingest:`), which gets no mail: a reply would be
  new pending mail, hence another nudge, without end. The agent runs a simulated ingest: it reads the
  pending messages, appends `## [date] ingest | <n> messages: <files>` to ops-wiki/log.md and acks each
  into .loop/messages/processed/ (the engine still sees an acked report: it reads processed/ too).

Two one-shot modes serve `loop-demo --story verify`, where the engine builds and verifies headless:

- `--build WORKTREE ... BRIEF` (the engine's `engine.build.cmd`; the brief is the last argument): a real,
  small commit in the worktree for the task the brief names (`id: T0001`): `demo_t0001.py`, whose
  describe() names the task, and `test_demo_t0001.py`, a unittest the project's `make check` runs; then
  the completion report by mail, as the pane agent sends it. Exit 1 with one line when git fails.
- `--review` (`LOOP_VERIFY_CMD`; the lens prompt on stdin, the lens in LOOP_VERIFY_LENS): counts the
  files of the diff and answers one ```verdict block: `pass` for code-review and silent-failure, and for
  adversarial `concerns` with one low finding saying no AI read the change.

The lane name defaults to the pane's tmux window name; the project root to the nearest directory above
the working directory that has a .loop/ (or --project-root / LOOP_PROJECT_ROOT), a lane's git worktree
counting as the project it belongs to (lib/worktree.py). Standard library only.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import select
import subprocess
import sys
import termios
import time
import tty

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mail
import worktree

SPINNER = "|/-\\"
TASK_ID = re.compile(r"^id:[ \t]*['\"]?(T\d{4})['\"]?[ \t]*$", re.MULTILINE)
TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
ASK = re.compile(r"\bre:([A-Za-z0-9][A-Za-z0-9_.:-]*)")
PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"


def window_name() -> str:
    pane = os.environ.get("TMUX_PANE")
    if not pane:
        return "demo"
    try:
        out = subprocess.run(
            ["tmux", "display-message", "-p", "-t", pane, "#{window_name}"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "demo"
    return out if mail.LANE_RE.match(out or "") else "demo"


def project_root(explicit: str | None) -> str:
    if explicit:
        return explicit
    if os.environ.get("LOOP_PROJECT_ROOT"):
        return os.environ["LOOP_PROJECT_ROOT"]
    here = worktree.main_root(os.getcwd())
    while True:
        if os.path.isdir(os.path.join(here, ".loop")):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return os.getcwd()
        here = parent


class Screen:
    def __init__(self, lane: str) -> None:
        self.lane = lane
        self.history: list[str] = []

    def draw(self, status_line: str) -> None:
        out = [
            "\x1b[H\x1b[2J",
            f"loop-orchestrator demo agent (lane {self.lane}) -- a simulation: no AI runs here.\r\n",
            "It reports back to coord by mail after pretending to work.\r\n\r\n",
        ]
        out.extend(f"  {line}\r\n" for line in self.history[-12:])
        out.append("\r\n" + status_line + "\r\n")
        sys.stdout.write("".join(out))
        sys.stdout.flush()

    def idle(self) -> None:
        self.draw("demo> _\r\n  demo agent ready -- paste a prompt and press Enter")


def reply_for(prompt: str) -> tuple[str, str | None]:
    """(subject, task id or None) for the report on `prompt`."""
    ask = ASK.search(prompt)
    task = TASK_ID.search(prompt)
    task_id = task.group(1) if task else None
    if ask:
        return f"re:{ask.group(1)}", task_id
    if task_id:
        title = TITLE.search(prompt)
        return f"done {task_id}: {title.group(1) if title else 'task'}", task_id
    return "demo report", None


def is_ingest_nudge(prompt: str) -> bool:
    return prompt.lstrip().startswith("Ingest:")


def note_ingest(root: str, lane: str) -> str:
    """Run a simulated ingest of the pending mail, per the protocol (AGENTS.md, Ingest): read each
    message, append one `## [date] ingest | <n> messages: <files>` line to ops-wiki/log.md, then ack
    each (mail.ack: into processed/). Return what was done (one line for the screen)."""
    mailbox = os.path.join(root, ".loop", "messages")
    log = os.path.join(root, "ops-wiki", "log.md")
    waiting = [m["file"] for m in mail.pending(mailbox, with_subjects=False)]
    if not os.path.isfile(log):
        return f"ingest nudge: {len(waiting)} pending, no ops-wiki/log.md to fold them into: left pending"
    read: list[str] = []
    for name in waiting:
        try:
            with open(os.path.join(mailbox, name), "rb") as fh:
                fh.read(1 << 20)  # "read" it: the simulation folds nothing but its name into the log
        except OSError:
            continue  # acked meanwhile by someone else
        read.append(name)
    if not read:
        return "ingest nudge: nothing pending any more"
    line = (
        f"## [{_dt.date.today():%Y-%m-%d}] ingest | {len(read)} messages: {', '.join(read)} "
        f"(simulated by the demo agent on {lane})\n"
    )
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(line)
    acked = 0
    for name in read:
        try:
            mail.ack(mailbox, name)
            acked += 1
        except (mail.MailError, OSError):
            pass  # acked meanwhile, or a name clash in processed/: it stays pending, never lost
    return f"ingest: {len(read)} read, noted in ops-wiki/log.md, {acked} acked into processed/"


def report(root: str, lane: str, prompt: str) -> str:
    subject, task_id = reply_for(prompt)
    first = prompt.strip().splitlines()[0][:120] if prompt.strip() else "(empty)"
    body = (
        f"Simulated work by the demo agent on lane {lane} at {_dt.datetime.now():%H:%M:%S}.\n"
        f"Prompt began with: {first}\n"
        "Nothing was changed: this agent is a simulation.\n"
    )
    extra = {"task": task_id} if task_id else None
    return mail.send(os.path.join(root, ".loop", "messages"), lane, "coord", subject, body, extra=extra)


def work(screen: Screen, seconds: float) -> bool:
    """Spin for `seconds`; False when interrupted (Escape or C-c)."""
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        screen.draw(f"{SPINNER[i % 4]} demo agent working... (esc to interrupt)")
        i += 1
        ready, _, _ = select.select([sys.stdin], [], [], 0.2)
        if ready:
            data = os.read(sys.stdin.fileno(), 1024)
            if data in (b"\x1b", b"\x03"):
                return False
    return True


DEMO_AUTHOR = ("-c", "user.name=loop demo agent", "-c", "user.email=demo-agent@loop-demo.invalid")
DIFF_FILE = re.compile(r"^\+\+\+ b/(.+)$", re.MULTILINE)


def build_once(worktree: str, brief: str, lane: str, root: str) -> int:
    """One real, small commit in `worktree` for the task `brief` names, then the report by mail."""
    task = TASK_ID.search(brief)
    task_id = task.group(1) if task else "T0000"
    found = TITLE.search(brief)
    title = found.group(1).strip("'\"") if found else "a task"
    module = f"demo_{task_id.lower()}"
    files = {
        f"{module}.py": (
            f'"""{task_id} -- written by the loop-orchestrator demo agent (a simulation: no AI)."""\n\n'
            f"TASK = {task_id!r}\nTITLE = {title!r}\n\n\n"
            "def describe() -> str:\n"
            '    return f"{TASK}: {TITLE}"\n'
        ),
        f"test_{module}.py": (
            f"import unittest\n\nimport {module}\n\n\n"
            "class DescribeTest(unittest.TestCase):\n"
            "    def test_names_the_task(self) -> None:\n"
            f"        self.assertTrue({module}.describe().startswith({task_id!r}))\n\n\n"
            'if __name__ == "__main__":\n    unittest.main()\n'
        ),
    }
    for name, text in files.items():
        with open(os.path.join(worktree, name), "w", encoding="utf-8") as fh:
            fh.write(text)
        print(f"demo agent: wrote {name}")
    message = f"{task_id}: {title} (demo agent, a simulation: no AI)"
    for argv in (["add", "--", *files], [*DEMO_AUTHOR, "commit", "-q", "-m", message]):
        proc = subprocess.run(
            ["git", "-C", worktree, *argv], capture_output=True, text=True, timeout=60, check=False
        )
        if proc.returncode != 0:
            why = (proc.stderr.strip() or proc.stdout.strip() or f"exit {proc.returncode}").splitlines()[-1]
            sys.stderr.write(f"demo_agent.py: git {argv[0] if argv[0] != '-c' else 'commit'}: {why}\n")
            return 1
    print(f"demo agent: committed {message}")
    body = (
        f"Built headless by the demo agent for lane {lane}: {', '.join(files)}, committed on the lane's\n"
        "branch. A simulation: no AI wrote this; `make check` runs its unit test.\n"
    )
    # in a sandbox (the engine's sandboxed build) the mailbox is read-only: its drop folder takes the mail,
    # as loop-mail send does (the host's sweep delivers it)
    drop = os.environ.get(mail.DROP_ENV, "")
    mail.send(
        drop or os.path.join(root, ".loop", "messages"),
        lane,
        "coord",
        f"done {task_id}: {title}",
        body,
        extra={"task": task_id},
        drop=bool(drop),
    )
    return 0


def review_once(prompt: str, lens: str) -> str:
    """A lens's answer: prose, then exactly one ```verdict block (the demo reads no code)."""
    files = sorted(set(DIFF_FILE.findall(prompt)))
    summary = f"demo reviewer ({lens or 'lens'}, no AI): the diff touches {len(files)} file(s)"
    verdict: dict = {"verdict": "pass", "findings": [], "summary": summary + "; nothing judged by a model."}
    if lens == "adversarial":
        verdict = {
            "verdict": "concerns",
            "findings": [
                {
                    "severity": "low",
                    "title": "simulated review: no AI read this change",
                    "detail": "the demo reviewer only counts the diff's files ("
                    + ", ".join(files)
                    + "); a real lens (an AI CLI) must review it before it is trusted",
                }
            ],
            "summary": summary + "; a simulation, so one low finding says so.",
        }
    return f"{summary}.\n\n```verdict\n{json.dumps(verdict)}\n```\n"


PROCESS_NAME = "loop-demo-agent"  # what tmux shows as the pane's command (the registry's process_names)


def _take_process_name(argv: list[str]) -> None:
    """Re-exec under argv[0] = PROCESS_NAME, so a lane running the demo agent is told apart from any
    other python3 pane (tmux reports a pane's command from argv[0])."""
    if os.environ.get("LOOP_DEMO_AGENT_NAMED") == "1" or not sys.executable:
        return
    os.environ["LOOP_DEMO_AGENT_NAMED"] = "1"
    try:
        os.execv(sys.executable, [PROCESS_NAME, "-S", os.path.abspath(__file__), *argv])
    except OSError:
        return  # keep running under the plain name


def main(argv: list[str]) -> int:
    _take_process_name(argv)
    parser = argparse.ArgumentParser(prog="demo_agent.py", add_help=True, allow_abbrev=False)
    parser.add_argument("--lane")
    parser.add_argument("--project-root")
    parser.add_argument("--work-s", type=float, default=float(os.environ.get("LOOP_DEMO_WORK_S", "3")))
    parser.add_argument(
        "--build", metavar="WORKTREE", help="one-shot build in WORKTREE (the brief: last arg)"
    )
    parser.add_argument("--review", action="store_true", help="one-shot verify lens (the prompt on stdin)")
    args, rest = parser.parse_known_args(argv)
    if args.review:
        sys.stdout.write(review_once(sys.stdin.read(), os.environ.get("LOOP_VERIFY_LENS", "")))
        return 0
    if args.build is not None:
        if not rest:
            sys.stderr.write("demo_agent.py: --build needs the brief as its last argument\n")
            return 2
        worktree = os.path.abspath(args.build)
        return build_once(worktree, rest[-1], args.lane or "demo", project_root(args.project_root or None))
    lane = args.lane or window_name()
    root = project_root(args.project_root)
    screen = Screen(lane)
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    if saved is not None:
        tty.setraw(fd)
    sys.stdout.write("\x1b[?2004h")  # ask the terminal (tmux) for bracketed paste
    buf = b""
    composer = b""
    in_paste = False
    try:
        screen.idle()
        while True:
            data = os.read(fd, 65536)
            if not data:
                return 0
            buf += data
            while buf:
                if in_paste:
                    end = buf.find(PASTE_END)
                    if end < 0:
                        composer, buf = composer + buf, b""
                        break
                    composer, buf, in_paste = composer + buf[:end], buf[end + len(PASTE_END) :], False
                    continue
                if buf.startswith(PASTE_START):
                    buf, in_paste = buf[len(PASTE_START) :], True
                    continue
                if PASTE_START.startswith(buf):
                    break  # a paste marker split across reads
                byte, buf = buf[:1], buf[1:]
                if byte == b"\x04" and not composer:
                    return 0
                if byte in (b"\r", b"\n"):
                    prompt = composer.decode("utf-8", errors="replace")
                    composer = b""
                    if not prompt.strip():
                        continue
                    screen.history.append(f"> {prompt.strip().splitlines()[0][:70]}")
                    if work(screen, args.work_s):
                        if is_ingest_nudge(prompt):
                            screen.history.append(note_ingest(root, lane))
                        else:
                            path = report(root, lane, prompt)
                            screen.history.append(f"reported to coord: {os.path.basename(path)}")
                    else:
                        screen.history.append("interrupted")
                    screen.idle()
                elif byte in (b"\x7f", b"\x08"):
                    composer = composer[:-1]
                elif byte == b"\x15":
                    composer = b""
                elif byte not in (b"\x1b",):
                    composer += byte
    except KeyboardInterrupt:
        return 130
    finally:
        sys.stdout.write("\x1b[?2004l")
        sys.stdout.flush()
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
