#!/usr/bin/env python3
"""sandbox.py: the bubblewrap sandbox of a sandboxed lane (stdlib only, python 3.8+, Linux).

A lane added with `loop-tmux add-lane --sandbox` (or `sandbox: true` in lane-config, or booted with
--sandbox-all) carries @loop_lane_sandbox=1, and every launch of it (add-lane, boot, the watchdog's
restart) runs its pane command, the launching shell and the shell it falls back to included, under
`bwrap`, built here and nowhere else (wrap()). Inside, the agent sees:

  * the system directories read-only (/usr, /etc, /opt, the /bin /lib ... links), a fresh /proc of its
    own pid namespace, a minimal /dev, a private /tmp and an empty $HOME;
  * every PATH entry read-only (a virtualenv's whole root, and the prefix of the interpreter its links
    point to), so git, the test runner and the loop-* helpers are the same tools;
  * the harness config (~/.claude, ~/.claude.json, ~/.codex, ~/.pi, ...) read-write, git's own config
    read-only;
  * its working tree read-write: the git top level of the lane's directory (its worktree, or the
    project root), or the directory itself outside git; for a linked worktree the main repository's
    .git too (read-write, so `git commit` works); the repository's .git/hooks and .git/config stay
    read-only either way;
  * inside that tree, docs/adr/, tasks/, ops-wiki/checkpoint.md, lane-config*.yaml and .loop/ read-only
    (a missing one is an empty read-only directory or /dev/null, so it cannot be created either);
  * one writable path for mail: the drop folder <project>/.loop/mail-drop/<lane>/ (mail.py sweep moves
    its files into the mailbox with `from:` forced to <lane>); LOOP_SANDBOX_MAIL_DROP names it inside
    (it only picks where loop-mail writes, it grants nothing);
  * no tmux: TMUX, TMUX_PANE and LOOP_TMUX_SOCKET unset, the socket directory not mounted, and the
    server's socket masked by /dev/null should it lie inside a mounted tree.
The network is shared (the model's API, a stub on 127.0.0.1).

CLI:
  sandbox.py check                      0 when bwrap runs here; else one line on stderr and 1
  sandbox.py argv --cwd D --lane L [--socket S] -- CMD...   print the bwrap argv (NUL-separated)
  sandbox.py drop-dir --cwd D --lane L  print the lane's mail drop folder
Environment: LOOP_SANDBOX_BWRAP (the bwrap binary; default: bwrap on PATH).
"""

from __future__ import annotations

import glob
import os
import platform
import shutil
import socket as _socket
import subprocess
import sys
from typing import List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import worktree

INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)"
)
SYSTEM_DIRS = ("/usr", "/etc", "/opt")
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
EXTRA_RO = ("/run/systemd/resolve",)  # /etc/resolv.conf may point there (systemd-resolved)
# harness config, relative to $HOME: read-write inside (the agent keeps its login, settings, sessions)
HARNESS_CONFIG = (
    ".claude",
    ".claude.json",
    ".codex",
    ".pi",
    ".gemini",
    ".config/opencode",
    ".local/share/opencode",
    ".config/goose",
    ".aider.conf.yml",
)
HOME_RO = (".gitconfig", ".config/git")
# inside the lane's tree: read-only (the gates: ADRs, task specs, the checkpoint, lane composition, .loop)
TREE_RO_DIRS = ("docs/adr", "tasks", ".loop")
TREE_RO_FILES = ("ops-wiki/checkpoint.md", "lane-config.yaml")
DROP_DIR = "mail-drop"
ENV_DROP = "LOOP_SANDBOX_MAIL_DROP"
ENV_LANE = "LOOP_SANDBOX_LANE"


class SandboxError(Exception):
    """One line for the user (exit 1)."""


def bwrap_binary() -> str:
    """The bwrap to run (LOOP_SANDBOX_BWRAP, else bwrap on PATH); SandboxError with the install hint."""
    if platform.system() != "Linux":
        raise SandboxError(
            f"sandboxed lanes need Linux bubblewrap; {platform.system()} is not supported "
            "(no sandbox-exec profile: run this lane without --sandbox)"
        )
    name = os.environ.get("LOOP_SANDBOX_BWRAP") or "bwrap"
    found = shutil.which(name)
    if not found:
        raise SandboxError(f"sandboxed lanes need bubblewrap, and {name} was not found; {INSTALL_HINT}")
    return found


def check() -> None:
    """Run a minimal sandbox of the same kind as wrap(); SandboxError saying why it cannot run."""
    bwrap = bwrap_binary()
    true = shutil.which("true") or "/bin/true"
    argv = [bwrap, *_base_args(), "--", true]
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError(f"bubblewrap ({bwrap}) cannot run: {exc}") from None
    if proc.returncode != 0:
        said = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        why = said[-1] if said else f"exit {proc.returncode}"
        raise SandboxError(f"bubblewrap ({bwrap}) cannot create a sandbox here: {why}")


def _base_args() -> List[str]:
    args = [
        "--die-with-parent",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
    ]
    for d in SYSTEM_DIRS + EXTRA_RO:
        args += ["--ro-bind-try", d, d]
    for link in SYSTEM_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    return args


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _git_lines(cwd: str, *args: str) -> Optional[List[str]]:
    try:
        proc = subprocess.run(
            ["git", "-C", cwd, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.decode("utf-8", "surrogateescape").splitlines()


def tree_of(cwd: str) -> Tuple[str, Optional[str]]:
    """(the lane's working tree, the main repository's .git when the tree is a linked worktree)."""
    real = os.path.realpath(cwd)
    out = _git_lines(real, "rev-parse", "--show-toplevel", "--git-dir", "--git-common-dir")
    if not out or len(out) != 3:
        return real, None
    top, git_dir, common = (os.path.realpath(os.path.join(real, p)) for p in out)
    return top, (common if git_dir != common and not _under(common, [top]) else None)


def drop_dir(cwd: str, lane: str) -> str:
    """The lane's mail drop folder: <the loop's project>/.loop/mail-drop/<lane> (a worktree lane's project
    is the one it belongs to, as loop-mail resolves it)."""
    project = worktree.main_root(os.path.realpath(cwd))
    top = _git_lines(project, "rev-parse", "--show-toplevel")
    root = os.path.realpath(top[0]) if top else project
    return os.path.join(root, ".loop", DROP_DIR, lane)


def _pth_dirs(pth: str) -> List[str]:
    """The absolute directories a site-packages .pth file adds (not its `import` lines)."""
    try:
        with open(pth, encoding="utf-8") as fh:
            lines = fh.read(65536).splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [ln.strip() for ln in lines if ln.strip().startswith("/") and os.path.isdir(ln.strip())]


def _path_binds(tree_roots: Sequence[str]) -> List[str]:
    """Read-only binds for every PATH entry (a virtualenv's root; the prefix its interpreter links to)."""
    seen: List[str] = list(SYSTEM_DIRS) + [link for link in SYSTEM_LINKS if os.path.exists(link)]
    binds: List[str] = []

    def add(path: str) -> None:
        if path and os.path.exists(path) and not _under(path, seen):
            seen.append(path)
            binds.append(path)

    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not entry or not os.path.isabs(entry) or not os.path.isdir(entry):
            continue
        real = os.path.realpath(entry)
        venv = os.path.dirname(real)
        if os.path.isfile(os.path.join(venv, "pyvenv.cfg")):
            add(venv)
            for pth in glob.glob(os.path.join(venv, "lib", "python*", "site-packages", "*.pth")):
                for line in _pth_dirs(pth):  # an editable install's sources: the same tools inside
                    add(line)
        else:
            add(real)
        if _under(real, ["/usr", "/bin", "/sbin"]):
            continue
        try:
            names = os.listdir(real)
        except OSError:
            continue
        for name in names:
            full = os.path.join(real, name)
            if os.path.islink(full):
                target = os.path.realpath(full)
                if os.path.isfile(target) and not _under(target, seen):
                    # <prefix>/bin/<tool>: the prefix holds its lib/ (an interpreter's stdlib)
                    prefix = os.path.dirname(os.path.dirname(target))
                    add(prefix if prefix != "/" else os.path.dirname(target))
    # the substrate's own shell/ (this file's ../): the loop-* helpers on PATH run its scripts
    add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # entries inside the lane's tree are bound again read-only after the tree (see wrap)
    return binds


def wrap(
    command: Sequence[str],
    cwd: str,
    lane: str,
    socket: Optional[str] = None,
    hostname: Optional[str] = None,
) -> List[str]:
    """The argv running `command` in the lane's sandbox (see the module docstring)."""
    bwrap = bwrap_binary()
    real_cwd = os.path.realpath(cwd)
    tree, git_common = tree_of(real_cwd)
    drop = drop_dir(real_cwd, lane)
    os.makedirs(drop, mode=0o700, exist_ok=True)
    home = os.path.realpath(os.path.expanduser("~"))
    args = [bwrap, *_base_args()]
    if home != "/" and not _under(home, [tree]):
        args += ["--tmpfs", home]  # an empty $HOME: no ~/.ssh, no other projects
    for rel in HOME_RO:
        args += ["--ro-bind-try", os.path.join(home, rel), os.path.join(home, rel)]
    for rel in HARNESS_CONFIG:
        args += ["--bind-try", os.path.join(home, rel), os.path.join(home, rel)]
    path_binds = _path_binds([tree])
    for p in path_binds:
        if not _under(p, [tree]):
            args += ["--ro-bind", p, p]
    args += ["--bind", tree, tree]
    if git_common:
        args += ["--bind", git_common, git_common]
    # git's hooks and config run code when YOU use git in this repository: read-only
    git_dir = git_common or os.path.join(tree, ".git")
    for rel in ("hooks", "config"):
        p = os.path.join(git_dir, rel)
        if os.path.isdir(git_dir) and os.path.exists(p):
            args += ["--ro-bind", p, p]
    if git_common:
        # the main checkout's mailbox, to read (a worktree's own tree has no .loop of the project)
        main_loop = os.path.join(os.path.dirname(git_common), ".loop", "messages")
        if os.path.isdir(main_loop):
            args += ["--ro-bind", main_loop, main_loop]
    # the gates inside the tree, read-only; a missing one cannot be created either
    for rel in TREE_RO_DIRS:
        p = os.path.join(tree, rel)
        if os.path.isdir(p):
            args += ["--ro-bind", p, p]
        elif not os.path.lexists(p):
            args += ["--tmpfs", p, "--remount-ro", p]
        else:
            args += ["--ro-bind", "/dev/null", p]
    host = hostname if hostname is not None else _socket.gethostname().split(".")[0]
    files = set(TREE_RO_FILES)
    if host:
        files.add(f"lane-config.{host}.yaml")  # the host overlay lane-config-resolver merges
    files |= {os.path.basename(p) for p in glob.glob(os.path.join(tree, "lane-config*.yaml"))}
    for rel in sorted(files):
        p = os.path.join(tree, rel)
        if os.path.lexists(p):
            args += ["--ro-bind", p, p]
        elif os.path.isdir(os.path.dirname(p)):
            args += ["--ro-bind", "/dev/null", p]
    for p in path_binds:
        if _under(p, [tree]):  # the tree's own virtualenv: the host runs it too, so it stays read-only
            args += ["--ro-bind", p, p]
    args += ["--bind", drop, drop]
    if socket and os.path.exists(socket):
        real_sock = os.path.realpath(socket)
        bound = [tree, home] + ([git_common] if git_common else []) + path_binds
        if _under(real_sock, bound):
            args += ["--ro-bind", "/dev/null", real_sock]
    args += ["--chdir", real_cwd]
    for var in ("TMUX", "TMUX_PANE", "LOOP_TMUX_SOCKET", "TMUX_TMPDIR"):
        args += ["--unsetenv", var]
    args += ["--setenv", "TMPDIR", "/tmp", "--setenv", ENV_DROP, drop, "--setenv", ENV_LANE, lane]
    return [*args, "--", *command]


def main(argv: List[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(__doc__ or "")
        return 0 if argv else 2
    verb, rest = argv[0], argv[1:]
    try:
        if verb == "check":
            check()
            return 0
        if verb in ("argv", "drop-dir"):
            opts = {"--cwd": "", "--lane": "", "--socket": ""}
            command: List[str] = []
            i = 0
            while i < len(rest):
                if rest[i] == "--":
                    command = rest[i + 1 :]
                    break
                if rest[i] in opts and i + 1 < len(rest):
                    opts[rest[i]] = rest[i + 1]
                    i += 2
                    continue
                sys.stderr.write(f"sandbox.py: unexpected argument {rest[i]!r}\n")
                return 2
            if not opts["--cwd"] or not opts["--lane"]:
                sys.stderr.write("sandbox.py: --cwd and --lane are required\n")
                return 2
            if verb == "drop-dir":
                sys.stdout.write(drop_dir(opts["--cwd"], opts["--lane"]) + "\n")
                return 0
            if not command:
                sys.stderr.write("sandbox.py: argv needs -- CMD...\n")
                return 2
            out = wrap(command, opts["--cwd"], opts["--lane"], opts["--socket"] or None)
            sys.stdout.buffer.write(b"".join(a.encode("utf-8", "surrogateescape") + b"\0" for a in out))
            return 0
        sys.stderr.write(f"sandbox.py: unknown verb {verb!r}\n")
        return 2
    except SandboxError as exc:
        sys.stderr.write(f"loop-tmux: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"loop-tmux: sandbox: {exc.filename or ''}: {exc.strerror}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
