"""README.md's commands are real: every command line of its ```sh blocks names a program that exists and
only flags that program's --help lists, and the ones that are safe offline run, in order, as a user
would type them, in a temporary HOME against a private tmux server played by fake agents (and a fake
Jira over real HTTP). The operator skill's command table and references/substrate.md are held to the
same flag check."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
from live_session import REPO, fake_bin, retry_until

README = REPO / "README.md"
SKILL = REPO / "skills" / "loop-orchestrator" / "SKILL.md"
SUBSTRATE_REF = REPO / "skills" / "loop-orchestrator" / "references" / "substrate.md"
VENV_BIN = Path(sys.executable).parent

# Programs that are neither a workspace console script nor a shell/ script, and how their flags are checked.
STANDARD_TOOLS = {"bash", "cd", "mkdir", "git", "tmux", "make", "uv", "python3", "pip", "export", "cat"}
# Commands the session run leaves out, with the reason (anything else must be runnable offline).
NOT_RUN = {
    "bash": "sets the machine up (network, apt)",
    "make": "installs into the user's environment or runs the whole suite",
    "uv": "installs or builds",
    "pip": "installs",
    "python3": "creates a virtualenv to install into",
    "loop-deck": "a full-screen TUI that runs until quit (the deck's own tests drive it)",
}
SHELL_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<"}


# ------------------------------------------------------------------------------------------ parsing


@dataclass
class Block:
    lang: str
    text: str
    line: int  # 1-based line of the opening fence
    lead: str  # the paragraph just above the fence


@dataclass
class Command:
    text: str
    comment: str
    line: int
    argv: list[str] = field(default_factory=list)

    @property
    def expected_exit(self) -> int:
        match = re.search(r"\bexit (\d+)\b", self.comment)
        return int(match.group(1)) if match else 0

    @property
    def segments(self) -> list[list[str]]:
        out: list[list[str]] = [[]]
        for token in self.argv:
            if token in SHELL_OPERATORS:
                out.append([])
            else:
                out[-1].append(token)
        return [seg for seg in out if seg]


def fenced_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = re.match(r"^```(\S*)\s*$", lines[i])
        if not match:
            i += 1
            continue
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        lead_lines: list[str] = []
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        while j >= 0 and lines[j].strip() and not lines[j].startswith(("```", "#")):
            lead_lines.insert(0, lines[j])
            j -= 1
        blocks.append(Block(match.group(1), "\n".join(body) + "\n", start + 1, " ".join(lead_lines)))
        i += 1
    return blocks


def split_comment(line: str) -> tuple[str, str]:
    """Split `cmd  # comment` at the first # that starts a word outside quotes."""
    quote = ""
    for k, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"':
                continue
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (k == 0 or line[k - 1].isspace()):
            return line[:k].rstrip(), line[k + 1 :].strip()
    return line.rstrip(), ""


def block_commands(block: Block) -> list[Command]:
    commands: list[Command] = []
    pending = ""
    pending_line = 0
    for offset, raw in enumerate(block.text.splitlines()):
        if not pending:
            pending_line = block.line + 1 + offset
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        full = pending + raw
        pending = ""
        code, comment = split_comment(full)
        if not code.strip():
            continue
        commands.append(Command(code.strip(), comment, pending_line, shlex.split(code)))
    return commands


def sh_commands(path: Path) -> list[Command]:
    out: list[Command] = []
    for block in fenced_blocks(path.read_text()):
        if block.lang == "sh":
            out.extend(block_commands(block))
    return out


# ------------------------------------------------------------------------------------ the programs


def workspace_scripts() -> set[str]:
    """Console scripts every workspace distribution declares ([project.scripts])."""
    names: set[str] = set()
    for pyproject in sorted((REPO / "packages").glob("*/pyproject.toml")):
        section = re.search(r"^\[project\.scripts\]\n(.*?)(?=^\[|\Z)", pyproject.read_text(), re.S | re.M)
        if section:
            names.update(re.findall(r"^([A-Za-z0-9_.-]+)\s*=", section.group(1), re.M))
    return names


WORKSPACE_SCRIPTS = workspace_scripts()


def shell_script(name: str) -> Path | None:
    """The shell/ script a bare name stands for (what `make install` links), if any."""
    for candidate in (
        REPO / "shell" / f"{name}.sh",
        REPO / "shell" / "scripts" / f"{name}.sh",
        REPO / "shell" / "bin" / name,
    ):
        if candidate.is_file():
            return candidate
    return None


def program_of(segment: list[str]) -> str:
    head = Path(segment[0]).name if "/" in segment[0] else segment[0]
    if head == "python3" and segment[1:3] == ["-m", "pip"]:
        return "pip"
    return head


def run_help(argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.setdefault("LOOP_SESSION", "docs-check")  # loop-engine wants a session even for --help
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")  # pip --help need not ask PyPI for news
    env.pop("TMUX", None)
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL, check=False
    )


@cache
def help_text(prefix: tuple[str, ...]) -> str | None:
    proc = run_help([*prefix, "--help"])
    return proc.stdout + proc.stderr if proc.returncode == 0 else None


@cache
def git_help(sub: str) -> str:
    proc = run_help(["git", sub, "-h"])  # git's --help opens a man page; -h prints usage (exit 129)
    return proc.stdout + proc.stderr


def pip_prefix() -> tuple[str, ...]:
    """A pip to read --help from: a real one if there is one, else uv's pip interface. The interpreter the
    workspace venv was made from comes first: a python3 found on PATH may be a pyenv shim, whose pip hook
    runs `pyenv rehash` after any `pip install …` (even --help) and waits out a stale rehash lock."""
    base = Path(sys.base_prefix) / "bin"
    candidates = [base / "python3", base / "python"]
    for python in ("python3", "python"):
        for directory in os.environ.get("PATH", "").split(os.pathsep):
            if directory and Path(directory) != VENV_BIN:
                candidates.append(Path(directory) / python)
    for exe in candidates:
        if exe.is_file():
            probe = run_help([str(exe), "-m", "pip", "--version"])
            if probe.returncode == 0:
                return (str(exe), "-m", "pip")
    return ("uv", "pip")


def chained_help(base: tuple[str, ...], words: list[str]) -> str:
    """--help of the program and of every subcommand chain the words spell (click, uv, pip). A program
    with subcommands must see one of them among the words (else the text says so, failing the check)."""
    text = help_text(base)
    assert text is not None, f"{' '.join(base)} --help failed"
    chain = base
    for word in words:
        if not re.fullmatch(r"[a-z][a-z0-9-]*", word):
            continue
        more = help_text((*chain, word))
        if more is not None and more != text:
            chain = (*chain, word)
            text += "\n" + more
    if chain == base and re.search(r"^Commands:", text, re.M):
        return NO_SUBCOMMAND
    return text


NO_SUBCOMMAND = "\0no subcommand"


def positional_words(args: list[str]) -> list[str]:
    return [a for a in args if not a.startswith("-")]


def long_flags(args: list[str]) -> list[str]:
    return sorted({a.split("=", 1)[0] for a in args if a.startswith("--") and a != "--"})


def check_segment(segment: list[str]) -> list[str]:
    """Problems with one program invocation: unknown program, or a --flag its --help does not list."""
    program = program_of(segment)
    args = segment[1:]
    flags = long_flags(args)
    if program in WORKSPACE_SCRIPTS:
        exe = VENV_BIN / program
        if not exe.is_file():
            return [f"{program}: console script not installed in {VENV_BIN}"]
        script = shell_script(program)
        if script is not None:  # a substrate CLI: the bash script's own --help covers every verb
            text = help_text(("bash", str(script)))
            assert text is not None, f"{script} --help failed"
        else:
            text = chained_help((str(exe),), positional_words(args))
    elif shell_script(program) is not None:
        text = help_text(("bash", str(shell_script(program)))) or ""
    elif program == "make":
        makefile = (REPO / "Makefile").read_text()
        targets = [a for a in args if "=" not in a and not a.startswith("-")]
        missing = [t for t in targets if not re.search(rf"^{re.escape(t)}:", makefile, re.M)]
        return [f"make: no target {t!r} in the Makefile" for t in missing]
    elif program == "bash":
        script_args = [a for a in args if not a.startswith("-")]
        if script_args and not (REPO / script_args[0]).is_file():
            return [f"bash: {script_args[0]} does not exist in the repository"]
        return [f"bash: cannot check {f}" for f in flags]
    elif program == "uv":
        text = chained_help(("uv",), positional_words(args))
    elif program == "pip":
        rest = args[2:] if segment[0].endswith("python3") else args
        text = chained_help(pip_prefix(), positional_words(rest))
    elif program == "git":
        words = positional_words(args)
        text = git_help(words[0]) if words else ""
    elif program in STANDARD_TOOLS:
        return [f"{program}: no --help to check {f} against" for f in flags]
    else:
        return [f"{program}: not a shell/ script, a workspace console script or a known standard tool"]
    if text == NO_SUBCOMMAND:
        return [f"{program}: none of {positional_words(args)} is one of its subcommands"]
    return [
        f"{program}: {flag} is not in its --help"
        for flag in flags
        if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text)
    ]


def check_command(command: Command) -> list[str]:
    problems: list[str] = []
    for segment in command.segments:
        problems.extend(check_segment(segment))
    return problems


README_COMMANDS = sh_commands(README)


def test_readme_shows_a_whole_session() -> None:
    programs = {program_of(seg) for c in README_COMMANDS for seg in c.segments}
    for needed in (
        "loop-init",
        "loop-tmux",
        "loop-lane-status",
        "loop-dispatch",
        "loop-mail",
        "loop-digest",
        "loop-adr",
        "loop-task-lint",
        "loop-pm",
    ):
        assert needed in programs, f"README.md shows no {needed} command"
    texts = [c.text for c in README_COMMANDS]
    assert texts[:2] == ["make demo", "make test"]  # the two commands on a fresh machine come first


@pytest.mark.parametrize(
    "command", README_COMMANDS, ids=[f"L{c.line}:{c.text[:60]}" for c in README_COMMANDS]
)
def test_readme_command_is_real(command: Command) -> None:
    assert not check_command(command), f"README.md:{command.line}: {check_command(command)}"


def distribution_scripts() -> dict[str, set[str]]:
    """Each workspace distribution's name and the console scripts it declares."""
    out: dict[str, set[str]] = {}
    for pyproject in sorted((REPO / "packages").glob("*/pyproject.toml")):
        text = pyproject.read_text()
        name = re.search(r'^name = "([^"]+)"', text, re.M)
        assert name, pyproject
        section = re.search(r"^\[project\.scripts\]\n(.*?)(?=^\[|\Z)", text, re.S | re.M)
        found = re.findall(r"^([A-Za-z0-9_.-]+)\s*=", section.group(1), re.M) if section else []
        out[name.group(1)] = set(found)
    return out


def uv_tool_installs(commands: list[Command]) -> list[tuple[str, list[str], list[str]]]:
    """(package, --with values, --with-executables-from values) of each `uv tool install` line."""
    out: list[tuple[str, list[str], list[str]]] = []
    for command in commands:
        argv = command.argv
        if argv[:3] != ["uv", "tool", "install"]:
            continue
        package = ""
        withs: list[str] = []
        exes: list[str] = []
        args = iter(argv[3:])
        for arg in args:
            if arg in ("--with", "--with-executables-from", "--find-links", "-f", "--index-url", "--from"):
                value = next(args)
                {"--with": withs, "--with-executables-from": exes}.get(arg, []).append(value)
            elif not arg.startswith("-") and not package:
                package = arg
        out.append((package, withs, exes))
    return out


def test_readme_uv_tools_link_each_command_once() -> None:
    """The README's `uv tool install` lines, run in order, each succeed: uv refuses a tool whose command
    another tool already links (`Executables already exist`), so no two lines may link the same name;
    together they link every workspace command the first hour runs; and loop-pm's tool carries the
    adapter the README syncs with (adapters are found in loop-pm's own environment)."""
    scripts = distribution_scripts()
    tools = uv_tool_installs(README_COMMANDS)
    assert tools, "README.md shows no `uv tool install` line"
    linked: dict[str, str] = {}
    for package, withs, exes in tools:
        assert package in scripts, f"uv tool install {package}: not a workspace distribution"
        for name in sorted(scripts[package].union(*(scripts[e] for e in exes))):
            assert name not in linked, f"both the {linked[name]} and the {package} tool link {name}"
            linked[name] = package
        if package == "loop-pm":
            assert "loop-pm-jira" in withs, "uv tool install loop-pm without --with loop-pm-jira"
    used = {program_of(seg) for c in README_COMMANDS for seg in c.segments} & WORKSPACE_SCRIPTS
    assert used <= set(linked), f"no uv tool line links {sorted(used - set(linked))}"


def test_readme_demo_args_are_loop_demo_flags() -> None:
    """`make demo DEMO_ARGS=…` passes its words to loop-demo: each flag README shows there must be one
    loop-demo's --help lists (make itself accepts any DEMO_ARGS, so nothing else would notice)."""
    spans = re.findall(r"`make demo DEMO_ARGS=([^`]+)`", README.read_text())
    assert spans, "README.md no longer shows `make demo DEMO_ARGS=…`"
    text = help_text((str(VENV_BIN / "loop-demo"),))
    assert text is not None, "loop-demo --help failed"
    for span in spans:
        flags = long_flags(shlex.split(shlex.split(span)[0]))
        assert flags, span
        missing = [f for f in flags if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", text)]
        assert not missing, f"make demo DEMO_ARGS={span}: loop-demo --help lacks {missing}"


DOCS_NAMING_ENV = [
    README,
    REPO / "AGENTS.md",
    REPO / "CONTRACT.md",
    SKILL,
    *sorted((REPO / "skills" / "loop-orchestrator" / "references").glob("*.md")),
]
ENV_NAME = re.compile(r"\b(?:LOOP|JIRA|LANE_CONFIG)_[A-Z0-9_]*[A-Z0-9]\b")


def source_text() -> str:
    """Everything the tools are made of: shell/ scripts and helpers, and every package's src/."""
    files = [
        *(REPO / "shell").rglob("*.sh"),
        *(REPO / "shell" / "lib").glob("*.py"),
        *(REPO / "shell" / "bin").iterdir(),
        *(REPO / "packages").glob("*/src/**/*.py"),
    ]
    return "\n".join(f.read_text(errors="replace") for f in files if f.is_file())


def test_documented_env_vars_are_read_somewhere() -> None:
    """Every LOOP_* / JIRA_* / LANE_CONFIG_* variable the user docs name is one the code reads: a renamed
    or removed variable would otherwise go on being documented, and silently do nothing."""
    code = set(ENV_NAME.findall(source_text()))
    total = 0
    for doc in DOCS_NAMING_ENV:
        named = set(ENV_NAME.findall(doc.read_text()))
        total += len(named)
        assert named <= code, f"{doc.relative_to(REPO)} names {sorted(named - code)}, which no code reads"
    assert total >= 20, f"the docs name only {total} variables: is the pattern still right?"


def doc_commands() -> list[tuple[str, Command]]:
    """Commands in substrate.md's plain code blocks and in SKILL.md's table of moves."""
    out: list[tuple[str, Command]] = []
    for block in fenced_blocks(SUBSTRATE_REF.read_text()):
        if block.lang == "":
            out.extend(("substrate.md", c) for c in block_commands(block))
    for number, line in enumerate(SKILL.read_text().splitlines(), 1):
        if not line.startswith("| ") or line.count("|") < 3:
            continue
        cell = line.split("|")[2]
        for span in re.findall(r"`([^`]+)`", cell):
            if re.match(r"loop-[a-z-]+ ", span + " "):
                code = span.replace("…", "x")
                out.append(("SKILL.md", Command(code, "", number, shlex.split(code))))
    return out


DOC_COMMANDS = doc_commands()


def test_skill_table_lists_the_moves() -> None:
    names = {program_of(c.argv) for source, c in DOC_COMMANDS if source == "SKILL.md"}
    assert {"loop-init", "loop-tmux", "loop-dispatch", "loop-lane-status", "loop-mail", "loop-pm"} <= names


@pytest.mark.parametrize(
    ("source", "command"), DOC_COMMANDS, ids=[f"{s}:L{c.line}:{c.text[:50]}" for s, c in DOC_COMMANDS]
)
def test_skill_command_is_real(source: str, command: Command) -> None:
    assert not check_command(command), f"{source}:{command.line}: {check_command(command)}"


def test_the_check_catches_a_flag_the_program_lacks(tmp_path: Path) -> None:
    """If README gained `loop-tmux … --no-such-flag` (or an unknown program), the check must say so."""
    fake = tmp_path / "README.md"
    fake.write_text(
        "```sh\n"
        "loop-tmux --project x --no-such-flag\n"
        "loop-pm sync --adapter jira pull --since-yesterday\n"
        "loop-frobnicate --help\n"
        "loop-engine --session s frobnicate\n"
        "make install-everything\n"
        "loop-dispatch --session s --mode text web hi   # ok\n"
        "```\n"
    )
    commands = sh_commands(fake)
    assert [bool(check_command(c)) for c in commands] == [True, True, True, True, True, False]
    assert "--no-such-flag" in check_command(commands[0])[0]
    assert "--since-yesterday" in check_command(commands[1])[0]


# ------------------------------------------------------------ CONTRACT.md sections the contract suite skips

# test_contract_suite.py checks the flags of the v1 sections; these are the sections it does not map.
CONTRACT_SECTIONS = {
    "lib/lane-health.sh": ("bash", str(REPO / "shell" / "lib" / "lane-health.sh")),
    "lib/harness-registry.sh": ("bash", str(REPO / "shell" / "lib" / "harness-registry.sh")),
    "loop-mail": ("bash", str(REPO / "shell" / "scripts" / "loop-mail.sh")),
    "loop-init": ("bash", str(REPO / "shell" / "loop-init.sh")),
    "loop-pm": (str(VENV_BIN / "loop-pm"),),
    "loop-pm-jira": (str(VENV_BIN / "loop-pm-jira"),),
    "loop-engine": (str(VENV_BIN / "loop-engine"),),
}


def all_help(prefix: tuple[str, ...], depth: int = 2) -> str:
    """A program's --help plus that of every subcommand it lists (click's `Commands:` block)."""
    text = help_text(prefix)
    assert text is not None, f"{' '.join(prefix)} --help failed"
    block = re.search(r"^Commands:\n((?:  .*\n?)+)", text, re.M)
    if block and depth > 0:
        for name in re.findall(r"^  ([a-z][a-z0-9-]*)\s", block.group(1), re.M):
            text += "\n" + all_help((*prefix, name), depth - 1)
    return text


def contract_section_flags() -> list[tuple[str, str]]:
    text = (REPO / "CONTRACT.md").read_text()
    out: list[tuple[str, str]] = []
    for heading, body in re.findall(r"^## (\S+)\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M):
        if heading in CONTRACT_SECTIONS:
            flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", body))
            out.extend((heading, flag) for flag in sorted(flags))
    return out


CONTRACT_FLAGS = contract_section_flags()


def test_contract_additions_are_listed() -> None:
    headings = {h for h, _ in CONTRACT_FLAGS}
    assert headings == set(CONTRACT_SECTIONS), set(CONTRACT_SECTIONS) - headings


@pytest.mark.parametrize(("heading", "flag"), CONTRACT_FLAGS, ids=[f"{h}:{f}" for h, f in CONTRACT_FLAGS])
def test_contract_addition_flag_in_help(heading: str, flag: str) -> None:
    text = all_help(CONTRACT_SECTIONS[heading])
    assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text), f"CONTRACT.md ## {heading}: {flag}"


# ---------------------------------------------------------------------------------- the session run


def _load_fake_jira() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "fake_jira_for_docs", REPO / "tests-integration" / "fake_jira.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Session:
    home: Path
    env: dict[str, str]
    socket: str
    received: Path
    jira_env: dict[str, str]
    cwd: Path
    log: list[str] = field(default_factory=list)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    home = tmp_path / "home"
    home.mkdir()
    # A short TMUX_TMPDIR whose default socket IS LOOP_TMUX_SOCKET: the scripts and a bare `tmux` in
    # README (kill-session) both reach the private server, never the user's.
    tmux_tmp = Path(os.path.realpath("/tmp")) / f"ld-{os.getpid()}-{int(time.monotonic() * 1000) % 100000}"
    sockdir = tmux_tmp / f"tmux-{os.getuid()}"
    sockdir.mkdir(parents=True, mode=0o700)
    socket = str(sockdir / "default")
    fakes = fake_bin(tmp_path)
    fake_jira = _load_fake_jira()
    jira = fake_jira.FakeJiraServer().start()
    jira.state.add_issue("TEAM", "Rotate the staging certificates")
    jira.state.add_issue("TEAM", "Document the deploy", status="In Progress")
    env = {
        k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE") and not k.startswith("JIRA_")
    }
    env.update(
        {
            "HOME": str(home),
            "PATH": os.pathsep.join([str(fakes), str(VENV_BIN), env.get("PATH", "")]),
            "LOOP_TMUX_SOCKET": socket,
            "TMUX_TMPDIR": str(tmux_tmp),
            "LOOP_LANE_STATUS_CACHE_DIR": str(tmp_path / "lane-status-cache"),
            "FAKE_AGENT_WELCOME_S": "0.2",
            "FAKE_AGENT_BUSY_S": "0.3",
            "LOOP_DISPATCH_PASTE_DELAY": "0.1",
            "GIT_AUTHOR_NAME": "Docs Test",
            "GIT_AUTHOR_EMAIL": "docs@example.com",
            "GIT_COMMITTER_NAME": "Docs Test",
            "GIT_COMMITTER_EMAIL": "docs@example.com",
            "GIT_CONFIG_NOSYSTEM": "1",
        }
    )
    # README's `export JIRA_…=<placeholder>` lines are replaced by the fake's values (see run_export).
    fake_env = {
        "JIRA_BASE_URL": jira.url,
        "JIRA_EMAIL": fake_jira.EMAIL,
        "JIRA_API_TOKEN": fake_jira.TOKEN,
        "JIRA_ALLOW_INSECURE_BASE_URL": "1",
        "JIRA_PROJECT_KEY": "TEAM",
    }
    sess = Session(home, env, socket, fakes / "received", fake_env, home)
    try:
        yield sess
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, check=False)
        jira.stop()
        shutil.rmtree(tmux_tmp, ignore_errors=True)


def expand(path: str, sess: Session) -> Path:
    path = path.replace("~", str(sess.home), 1) if path.startswith("~") else path
    target = Path(path)
    return target if target.is_absolute() else sess.cwd / target


def run_export(command: Command, sess: Session) -> None:
    for assignment in command.argv[1:]:
        name, _, value = assignment.partition("=")
        if name.startswith("JIRA_"):
            sess.env.update(sess.jira_env)
        else:
            sess.env[name] = value


def apply_file_block(block: Block, sess: Session) -> None:
    """A yaml/markdown block whose lead ends naming `a/file`: the user writes that file (or, when the
    lead speaks of frontmatter, sets those keys in its frontmatter; files the values name are the
    records the lead asks the human to write, so they are created when missing)."""
    match = re.search(r"`([^`\s]+)`:\s*$", block.lead)
    if match is None:
        return
    target = expand(match.group(1), sess)
    if "frontmatter" not in block.lead:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.text)
        return
    text = target.read_text()
    head, sep, body = text[4:].partition("\n---\n")
    assert text.startswith("---\n") and sep, f"{target} has no frontmatter"
    for line in block.text.splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        if re.fullmatch(r"[\w./-]+\.md", value):
            record = sess.cwd / value
            record.parent.mkdir(parents=True, exist_ok=True)
            if not record.exists():
                record.write_text(f"# {key}\n\nwritten by the human before accepting.\n")
        if re.search(rf"^{re.escape(key)}:.*$", head, re.M):
            head = re.sub(rf"^{re.escape(key)}:.*$", f"{key}: {value}", head, flags=re.M)
        else:
            head += f"\n{key}: {value}"
    target.write_text(f"---\n{head}{sep}{body}")


def runnable(command: Command) -> bool:
    segment = command.segments[0]
    program = program_of(segment)
    if program in NOT_RUN:
        return False
    if program == "tmux" and "attach" in segment[1:2]:
        return False
    # loop-digest without --once/--json is the redraw mode, which runs until killed
    return program != "loop-digest" or bool({"--once", "--json"} & set(segment))


def run_command(command: Command, sess: Session) -> subprocess.CompletedProcess[str] | None:
    program = program_of(command.segments[0])
    if program == "cd":
        sess.cwd = expand(command.argv[1], sess)
        assert sess.cwd.is_dir(), f"README.md:{command.line}: cd into a missing folder"
        return None
    if program == "export":
        run_export(command, sess)
        return None
    proc = subprocess.run(
        ["bash", "-c", command.text],
        cwd=sess.cwd,
        env=sess.env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    sess.log.append(f"$ {command.text}\n[exit {proc.returncode}]\n{proc.stdout}{proc.stderr}")
    return proc


def approve_from_prose(status_out: str, sess: Session) -> subprocess.CompletedProcess[str]:
    """The approve command README's engine step shows in prose, run on the decision `status` printed."""
    decision = re.search(r"^pending decision (d-[\w-]+)", status_out, re.M)
    assert decision, status_out
    approve = re.search(r"`(loop-engine [^`]* approve) <id>`", README.read_text())
    assert approve, "README.md no longer shows how to approve a decision from a shell"
    argv = [*shlex.split(approve.group(1)), decision.group(1)]
    proc = subprocess.run(
        argv, cwd=sess.cwd, env=sess.env, capture_output=True, text=True, timeout=120, check=False
    )
    sess.log.append(f"$ {shlex.join(argv)}\n[exit {proc.returncode}]\n{proc.stdout}{proc.stderr}")
    return proc


def test_the_readme_session_runs(session: Session) -> None:
    """Runs README.md top to bottom: every runnable command exits as its comment says (0 unless it says
    `exit N`), and what it claims happened did happen."""
    ran: list[tuple[Command, subprocess.CompletedProcess[str]]] = []
    approved: list[subprocess.CompletedProcess[str]] = []
    skipped: list[str] = []
    for block in fenced_blocks(README.read_text()):
        if block.lang in ("yaml", "markdown"):
            apply_file_block(block, session)
            continue
        if block.lang != "sh":
            continue
        for command in block_commands(block):
            if not runnable(command):
                skipped.append(command.text)
                continue
            proc = run_command(command, session)
            if proc is None:
                continue
            if program_of(command.segments[0]) == "loop-dispatch" and proc.returncode == 0:
                payload = command.argv[-1]
                retry_until(
                    lambda p=payload: any(p in f.read_text() for f in session.received.glob("*.log")),
                    timeout=20,
                )
            assert proc.returncode == command.expected_exit, (
                f"README.md:{command.line}: `{command.text}` exited {proc.returncode}, "
                f"expected {command.expected_exit}\n" + "\n".join(session.log[-3:])
            )
            ran.append((command, proc))
            if command.argv[:1] == ["loop-engine"] and command.argv[-1] == "status":
                approved.append(approve_from_prose(proc.stdout, session))

    assert len(ran) >= 25, f"only {len(ran)} README commands ran"
    assert all(program_of(shlex.split(s)) in NOT_RUN or "attach" in s for s in skipped), skipped
    project = session.cwd

    # boot-check saw every AI lane of the lane-config come up
    boot = next(p for c, p in ran if "--boot-check" in c.argv)
    assert "boot-check: 3 AI lane(s) checked, 0 FAIL" in boot.stdout, boot.stdout
    # the JSON status covers the fixed lanes, with the lane-config's harnesses
    status = json.loads(
        next(p for c, p in ran if c.argv[:3] == ["loop-lane-status", "--json", "--all"]).stdout
    )
    assert status["contract_version"] == 1
    assert {"web": "claude", "infra": "codex", "docs": "pi"}.items() <= {
        name: lane["harness"] for name, lane in status["lanes"].items()
    }.items()
    # mail landed as files, and the digest saw them
    pending = sorted((project / ".loop" / "messages").glob("*-to-coord.md"))
    assert len(pending) == 2
    digest = json.loads(
        next(p for c, p in ran if c.argv[:1] == ["loop-digest"] and "--json" in c.argv).stdout
    )
    assert [m["subject"] for m in digest["mailbox"]["pending"]] == [
        "objective: /healthz",
        "done T0001: /healthz",
    ]
    # the engine queued one decision and ran nothing, status named it, the prose's approve ran it
    once = next(p for c, p in ran if c.argv[:1] == ["loop-engine"] and "once" in c.argv)
    queued = re.fullmatch(r"queued: 0 run, 1 queued \((d-[\w-]+)\)\n", once.stdout)
    assert queued, once.stdout
    status_out = next(p for c, p in ran if c.argv[:1] == ["loop-engine"] and c.argv[-1] == "status").stdout
    assert f"pending decision {queued.group(1)}" in status_out, status_out
    assert approved and approved[0].returncode == 0, approved
    assert approved[0].stdout.startswith(f"approved {queued.group(1)}: 1 action(s) run, 0 failed")
    # the ADR gate: refused first, accepted after the records were linked
    adr = project / "docs" / "adr" / "0001-put-webhooks-on-a-queue.md"
    assert re.search(r"^status: Accepted$", adr.read_text(), re.M)
    # Jira: the pull made task files for the open remote issues, the push gave T0001 a key
    tasks = sorted(p.name for p in (project / "tasks").glob("T*.md"))
    assert len(tasks) == 3 and tasks[0] == "T0001-add-healthz.md", tasks
    assert re.search(r"^jira: TEAM-\d+$", (project / "tasks" / tasks[0]).read_text(), re.M)
    # the final kill-session took the session down on the private server
    gone = subprocess.run(
        ["tmux", "-S", session.socket, "has-session", "-t", "=myapp"], capture_output=True, check=False
    )
    assert gone.returncode != 0
