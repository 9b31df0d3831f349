#!/usr/bin/env python3
"""worktree.py: the project a lane's directory belongs to, when the lane runs in a git worktree (stdlib only).

A `loop-tmux add-lane --worktree` lane works in <P>/.loop/worktrees/<session>/<window>, a git worktree of
the project <P> on branch loop/<session>/<window>. The loop itself (mailbox, ADRs, state) lives in <P>,
so the helpers a lane calls (loop-mail, loop-adr, loop-lane-hook) map such a directory back to <P>:

  1. a directory at or below <P>/.loop/worktrees/<s>/<w> maps to <P> plus the same path below <w>
     (the layout loop-tmux creates; it needs no git);
  2. otherwise, when git is installed and the directory lies in a linked worktree whose main checkout is
     <M> (git's common dir is <M>/.git), the directory has no .loop/ of its own and the same place in <M>
     has one: that place in <M> (a lane given a worktree made by hand, e.g. --worktree-web);
  3. anything else is returned as it was given (a main checkout, no git, not a repository).

CLI: worktree.py main-root DIR   prints the directory DIR's loop lives in (DIR itself in case 3).
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import List, Optional

LAYOUT = os.sep + os.path.join(".loop", "worktrees") + os.sep
GIT_TIMEOUT_S = 10


def _layout_root(path: str) -> Optional[str]:
    """Case 1: <P>/.loop/worktrees/<s>/<w>[/rest] -> <P>[/rest]; None when `path` is not there."""
    at = path.rfind(LAYOUT)
    while at >= 0:
        parts = path[at + len(LAYOUT) :].split(os.sep)
        if len(parts) >= 2 and parts[0] and parts[1]:
            project = path[:at] or os.sep
            return os.path.join(project, *parts[2:]) if len(parts) > 2 else project
        at = path.rfind(LAYOUT, 0, at)
    return None


def _git(path: str, *args: str) -> Optional[List[str]]:
    try:
        proc = subprocess.run(
            ["git", "-C", path, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None  # no git, or it hung: behave as without git
    if proc.returncode != 0:
        return None
    return proc.stdout.decode("utf-8", "surrogateescape").splitlines()


def _git_root(path: str) -> Optional[str]:
    """Case 2: the same place in the main checkout of the linked worktree `path` lies in, or None."""
    if os.path.isdir(os.path.join(path, ".loop")):
        return None  # a loop runs right here
    out = _git(path, "rev-parse", "--show-toplevel", "--git-dir", "--git-common-dir")
    if out is None or len(out) != 3:
        return None
    top, git_dir, common = (os.path.realpath(os.path.join(path, p)) for p in out)
    if git_dir == common or os.path.basename(common) != ".git":
        return None  # the main checkout itself, or a bare repository's worktree (no main checkout)
    rel = os.path.relpath(path, top)
    main = os.path.dirname(common)
    mapped = main if rel == os.curdir else os.path.join(main, rel)
    return mapped if os.path.isdir(os.path.join(mapped, ".loop")) else None


def main_root(path: str) -> str:
    """The directory `path`'s loop lives in: see the module docstring. Never raises for a bad path."""
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):
        return path
    if not os.path.isdir(real):
        return path
    return _layout_root(real) or _git_root(real) or path


def main(argv: List[str]) -> int:
    if len(argv) == 1 and argv[0] in ("-h", "--help"):
        sys.stdout.write(__doc__ or "")
        return 0
    if len(argv) != 2 or argv[0] != "main-root":
        sys.stderr.write("usage: worktree.py main-root DIR\n")
        return 2
    sys.stdout.write(main_root(argv[1]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
