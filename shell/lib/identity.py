#!/usr/bin/env python3
"""identity.py: is the caller a human, or an AI lane? The check of every human-only command (stdlib, 3.8+).

    identity.py caller [--pid PID] [--json] the verdict for this process (or process PID and its
                                            ancestors): exit 0 a human, 1 an AI lane (or not checkable)
    identity.py require-human PROG VERB     exit 0 for a human; otherwise one line on stderr,
                                            "PROG: refusing 'VERB': <why>; a human runs PROG VERB ...", exit 1

loop-adr accept/reject/supersede call it through common.sh's loop_require_human (so will every later
human-only command). The verdict comes from what a lane cannot forge, the caller's process ancestry,
and never from the environment (TMUX, TMUX_PANE, LOOP_TMUX_SOCKET only propose tmux servers to ask):

1. Every ancestor of this process (/proc on Linux; `ps` elsewhere) is named by its command (comm), the
   basenames of its argv[0] and of its executable, the harness directory of an executable kept as
   <harness>/versions/<version> (Claude Code titles its process with its version, e.g. "2.1.197"), and
   the basename of argv[1] when that is an executable file (a `#!/usr/bin/env node` agent runs as
   `node /usr/local/bin/<agent>`). One of them an agent's own process name
   (lane_status.Registry.agent_of_process): an AI harness is an ancestor, refused. That covers an agent
   run in a plain terminal, outside tmux.
2. For each tmux server among the ancestors, the ancestor just below it is the pane's process. The
   servers that may own it are asked (`list-panes -a -F '#{pid} #{pane_pid} ...'`, with the server's
   own executable): its listening socket (Linux: /proc/<pid>/fd against /proc/net/unix), LOOP_TMUX_SOCKET,
   $TMUX's socket and the sockets in ${TMUX_TMPDIR:-/tmp}/tmux-<uid>/; only an answer whose #{pid} is
   that very server counts. The pane found is judged by lane_status.Registry.ai_harness (its
   @loop_lane_harness, its command): the one answer to "is this lane an AI lane?" that --boot-check,
   the watchdog and loop-lane-status's `ai` give too. An AI lane is refused; a pane that cannot be
   found is refused.
3. When the ancestry cannot be read in full, any sign of tmux (a tmux server among what was read, TMUX
   or TMUX_PANE set) refuses; so does a harness registry that cannot be read.

Exit: 0 a human; 1 refused; 2 usage.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

import lane_status

MAX_DEPTH = 512
TMUX_TIMEOUT_S = 10.0


class Proc:
    """One ancestor: its pid, its parent's pid, the names it goes by, and its executable (when known)."""

    def __init__(self, pid: int, ppid: int, names: List[str], exe: str) -> None:
        self.pid = pid
        self.ppid = ppid
        self.names = names
        self.exe = exe


class Verdict:
    """`ai`: refused (an AI lane, or it cannot be told); `reason`: one line saying why."""

    def __init__(
        self, ai: bool, reason: str, harness: Optional[str] = None, pane: Optional[str] = None
    ) -> None:
        self.ai = ai
        self.reason = reason
        self.harness = harness
        self.pane = pane

    def as_dict(self) -> Dict[str, object]:
        return {"ai": self.ai, "reason": self.reason, "harness": self.harness, "pane": self.pane}


def _base(path: str) -> str:
    return path.rstrip("/").rpartition("/")[2]


def names_of(comm: str, argv: List[str], exe: str, cwd: str = "") -> List[str]:
    """The names a process goes by (see the module doc, step 1); a login shell's leading '-' dropped."""
    out = [comm, _base(argv[0]) if argv else "", _base(exe)]
    parts = exe.split("/")
    if len(parts) >= 3 and parts[-2] == "versions":
        out.append(parts[-3])  # <harness>/versions/<version>: Claude Code's native install
    if len(argv) > 1 and argv[1] and not argv[1].startswith("-"):
        script = argv[1] if argv[1].startswith("/") or not cwd else os.path.join(cwd, argv[1])
        if os.path.isfile(script) and os.access(script, os.X_OK):
            out.append(_base(argv[1]))
    seen: List[str] = []
    for raw in out:
        name = raw.lstrip("-")
        if name and name not in seen:
            seen.append(name)
    return seen


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _proc_linux(pid: int) -> Optional[Proc]:
    """One process from /proc (None when it is gone or unreadable)."""
    try:
        stat = _read(f"/proc/{pid}/stat").decode("utf-8", "surrogateescape")
        head, _, tail = stat.rpartition(")")
        comm = head.partition("(")[2]
        ppid = int(tail.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    try:
        argv = [a.decode("utf-8", "surrogateescape") for a in _read(f"/proc/{pid}/cmdline").split(b"\0")]
        while argv and argv[-1] == "":
            argv.pop()
    except OSError:
        argv = []
    exe, cwd = _readlink(f"/proc/{pid}/exe"), _readlink(f"/proc/{pid}/cwd")
    if exe.endswith(" (deleted)"):
        exe = exe[: -len(" (deleted)")]
    return Proc(pid, ppid, names_of(comm, argv, exe, cwd), exe)


def _ps_argv() -> List[str]:
    return ["/bin/ps"] if os.path.isfile("/bin/ps") else ["ps"]


def _chain_ps(start: int) -> Tuple[List[Proc], bool]:
    """The ancestry from `ps` (macOS, BSD): pid, ppid and comm of every process, then their args."""
    rows: Dict[int, Tuple[int, str]] = {}
    args: Dict[int, List[str]] = {}
    try:
        table = subprocess.run(
            [*_ps_argv(), "-A", "-o", "pid=", "-o", "ppid=", "-o", "comm="],
            capture_output=True,
            check=False,
            timeout=TMUX_TIMEOUT_S,
        )
        lines = subprocess.run(
            [*_ps_argv(), "-A", "-o", "pid=", "-o", "args="],
            capture_output=True,
            check=False,
            timeout=TMUX_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired):
        return [], False
    if table.returncode != 0:
        return [], False
    for line in table.stdout.decode("utf-8", "surrogateescape").splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            rows[int(parts[0])] = (int(parts[1]), parts[2].strip())
    for line in lines.stdout.decode("utf-8", "surrogateescape").splitlines():
        parts = line.split()
        if parts and parts[0].isdigit():
            args[int(parts[0])] = parts[1:]
    chain: List[Proc] = []
    pid = start
    while pid > 0 and len(chain) < MAX_DEPTH:
        if pid not in rows:
            return chain, False
        ppid, comm = rows[pid]
        exe = comm if comm.startswith("/") else ""
        chain.append(Proc(pid, ppid, names_of(_base(comm), args.get(pid, []), exe), exe))
        if ppid == pid:
            break
        pid = ppid
    return chain, pid <= 0 or rows.get(pid, (0, ""))[0] == pid


def ancestry(start: Optional[int] = None) -> Tuple[List[Proc], bool]:
    """This process and its ancestors, nearest first, and whether that chain reached a process without
    a parent (False: some ancestor could not be read, so a tmux server or a harness may be missing)."""
    pid = os.getpid() if start is None else start
    if not os.path.isdir("/proc/self"):
        return _chain_ps(pid)
    chain: List[Proc] = []
    seen = set()
    while pid > 0 and len(chain) < MAX_DEPTH:
        if pid in seen:
            return chain, False
        seen.add(pid)
        proc = _proc_linux(pid)
        if proc is None:
            return chain, False
        chain.append(proc)
        pid = proc.ppid
    return chain, pid <= 0


def is_tmux_server(proc: Proc) -> bool:
    return any(n == "tmux" or n.startswith("tmux:") for n in proc.names)


def server_sockets(pid: int) -> List[str]:
    """The unix socket paths a process holds (Linux: its fds against /proc/net/unix; else none)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link.endswith("]"):
                inodes.add(link[8:-1])
        text = _read("/proc/net/unix").decode("utf-8", "surrogateescape")
    except OSError:
        return []
    paths = []
    for line in text.splitlines()[1:]:
        parts = line.split(None, 7)
        if len(parts) == 8 and parts[6] in inodes and parts[7].startswith("/") and parts[7] not in paths:
            paths.append(parts[7])
    return paths


def candidate_sockets(server: Proc) -> List[str]:
    """Sockets that may be `server`'s: its own (from /proc), then the ones the environment and the
    default socket directory name. Env only proposes: an answer counts only from the server itself."""
    out = server_sockets(server.pid)
    for env_sock in (os.environ.get("LOOP_TMUX_SOCKET", ""), os.environ.get("TMUX", "").split(",")[0]):
        if env_sock:
            out.append(env_sock)
    directory = os.path.join(os.environ.get("TMUX_TMPDIR") or "/tmp", f"tmux-{os.getuid()}")
    with contextlib.suppress(OSError):
        out.extend(os.path.join(directory, n) for n in sorted(os.listdir(directory)))
    unique: List[str] = []
    for sock in out:
        if sock not in unique:
            unique.append(sock)
    return unique


def _tmux_binary(server: Proc) -> str:
    """The server's own executable (a `tmux` first on a lane's PATH could answer anything), else tmux."""
    if server.exe.startswith("/") and os.access(server.exe, os.X_OK):
        return server.exe
    return shutil.which("tmux") or "tmux"


PANE_FORMAT = (
    "pid",
    "pane_pid",
    "pane_id",
    "session_name",
    "window_name",
    "@loop_lane_harness",
    "pane_current_command",
)


def find_pane(server: Proc, pane_pid: int) -> Optional[Dict[str, str]]:
    """The pane of `server` whose process is `pane_pid`, asked of the candidate sockets."""
    nonce = os.urandom(8).hex()
    fmt = f"\t{nonce}\t".join("#{" + f + "}" for f in PANE_FORMAT)
    binary = _tmux_binary(server)
    for sock in candidate_sockets(server):
        try:
            proc = subprocess.run(
                [binary, "-S", sock, "list-panes", "-a", "-F", fmt],
                capture_output=True,
                check=False,
                timeout=TMUX_TIMEOUT_S,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if proc.returncode != 0:
            continue
        for line in proc.stdout.decode("utf-8", "surrogateescape").splitlines():
            values = line.split(f"\t{nonce}\t")
            if len(values) != len(PANE_FORMAT):
                continue
            row = dict(zip(PANE_FORMAT, values))
            if row["pid"] != str(server.pid):
                break  # another server answered on this socket
            if row["pane_pid"] == str(pane_pid):
                return row
    return None


def caller_verdict(registry: lane_status.Registry, chain: List[Proc], complete: bool) -> Verdict:
    """Is the process whose ancestry is `chain` (nearest first; `complete` when it was read up to a
    process without a parent) a human's or an AI lane's?"""
    if not registry.harnesses:
        return Verdict(True, "the harness registry cannot be read, so AI lanes cannot be told apart")
    for proc in chain:
        harness = registry.agent_of_process(proc.names)
        if harness is not None:
            return Verdict(True, f"an AI harness is among its ancestors ({harness}, pid {proc.pid})", harness)
    for i, proc in enumerate(chain):
        if i == 0 or not is_tmux_server(proc):
            continue
        pane_proc = chain[i - 1]
        row = find_pane(proc, pane_proc.pid)
        if row is None:
            why = f"it runs under the tmux server pid {proc.pid}, whose pane for pid {pane_proc.pid}"
            return Verdict(True, why + " cannot be found")
        harness = registry.ai_harness(row["@loop_lane_harness"], (row["pane_current_command"],))
        if harness is not None:
            where = f"window '{row['window_name']}', pane {row['pane_id']}, harness {harness}"
            return Verdict(True, f"this runs in the pane of an AI lane ({where})", harness, row["pane_id"])
    if not complete:
        if any(is_tmux_server(p) for p in chain) or os.environ.get("TMUX") or os.environ.get("TMUX_PANE"):
            return Verdict(True, "this process's ancestry cannot be read in full, and it runs under tmux")
        return Verdict(False, "this process's ancestry cannot be read in full; there is no sign of tmux")
    return Verdict(False, "no AI harness among its ancestors and no AI lane's pane")


def verdict_now(pid: Optional[int] = None) -> Verdict:
    registry = lane_status.Registry(lane_status.load_registry())
    chain, complete = ancestry(pid)
    if not chain:
        return Verdict(True, f"no process {pid}" if pid else "this process's ancestry cannot be read")
    return caller_verdict(registry, chain, complete)


def _usage() -> int:
    sys.stderr.write("identity: usage: identity.py caller [--pid PID] [--json] | require-human PROG VERB\n")
    return 2


def main(argv: List[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(__doc__ or "")
        return 0 if argv else 2
    verb, rest = argv[0], argv[1:]
    if verb == "caller":
        as_json, pid = False, None
        it = iter(rest)
        for arg in it:
            if arg == "--json":
                as_json = True
            elif arg == "--pid":
                value = next(it, "")
                if not value.isdigit() or int(value) <= 0:
                    return _usage()
                pid = int(value)
            else:
                return _usage()
        verdict = verdict_now(pid)
        if as_json:
            sys.stdout.write(json.dumps(verdict.as_dict()) + "\n")
        else:
            sys.stdout.write(("ai" if verdict.ai else "human") + f": {verdict.reason}\n")
        return 1 if verdict.ai else 0
    if verb == "require-human" and len(rest) == 2:
        prog, what = rest
        verdict = verdict_now()
        if verdict.ai:
            human = f"a human runs {prog} {what} from their own shell"
            sys.stderr.write(f"{prog}: refusing '{what}': {verdict.reason}; {human}\n")
            return 1
        return 0
    return _usage()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
