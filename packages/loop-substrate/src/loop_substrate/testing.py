"""Test doubles for the layers above the substrate: a fake shell/ whose CLIs record every call.

`FakeSubstrate(root)` builds a directory that looks like shell/ (CONTRACT_VERSION + one script per CLI).
Point `LOOP_SHELL_DIR` at it (see `.env`) and every `Substrate` call runs a recorder instead of tmux:
the argv and stdin land in `calls.jsonl`, the canned answer set with `respond()` comes back. The same
recorders are linked under `bin/` for code that runs the CLIs from PATH.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

from loop_substrate.paths import SCRIPT_NAMES

_RECORDER = r"""
import json, os, sys
root, cli = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
data = "" if sys.stdin.isatty() else sys.stdin.read()
safe = cli.replace("/", "__")
base = os.path.join(root, "responses", safe)
answer = {}
for suffix in (".out", ".err", ".code"):
    try:
        with open(base + suffix, encoding="utf-8") as fh:
            answer[suffix] = fh.read()
    except FileNotFoundError:
        answer[suffix] = ""
# the call is logged once its answer is read: a test that sees the call may respond() anew for the next
with open(os.path.join(root, "calls.jsonl"), "a", encoding="utf-8") as fh:
    fh.write(json.dumps({"cli": cli, "args": args, "stdin": data}) + "\n")
sys.stdout.write(answer[".out"])
sys.stderr.write(answer[".err"])
sys.exit(int(answer[".code"].strip() or 0))
"""

LIB_SCRIPTS = ("lib/harness-registry.sh", "lib/lane-config-resolver.sh")


class FakeSubstrate:
    def __init__(self, root: Path, contract_version: int = 1) -> None:
        self.root = Path(root)
        self.shell = self.root / "shell"
        self.bin = self.root / "bin"
        for directory in (self.shell / "lib", self.bin, self.root / "responses"):
            directory.mkdir(parents=True, exist_ok=True)
        (self.shell / "CONTRACT_VERSION").write_text(f"{contract_version}\n")
        recorder = self.root / "recorder.py"
        recorder.write_text(_RECORDER)
        for cli in (*SCRIPT_NAMES, *LIB_SCRIPTS):
            path = self.shell / (cli if "/" in cli else f"{cli}.sh")
            line = (
                f"exec {shlex.quote(sys.executable)} {shlex.quote(str(recorder))} "
                f'{shlex.quote(str(self.root))} {shlex.quote(cli)} "$@"\n'
            )
            path.write_text("#!/usr/bin/env bash\n" + line)
            path.chmod(0o755)
            if "/" not in cli:
                link = self.bin / cli
                if not link.exists():
                    link.symlink_to(path)

    @property
    def env(self) -> dict[str, str]:
        """Environment entries that route the client (LOOP_SHELL_DIR) and PATH lookups to the fakes."""
        return {
            "LOOP_SHELL_DIR": str(self.shell),
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def respond(
        self, cli: str, stdout: str | dict[str, object] = "", *, exit_code: int = 0, stderr: str = ""
    ) -> None:
        """What `cli` prints and exits with from now on (a dict is printed as JSON)."""
        base = self.root / "responses" / cli.replace("/", "__")
        text = json.dumps(stdout) + "\n" if isinstance(stdout, dict) else stdout
        # suffixes are appended, never substituted: "lib/harness-registry.sh" keeps its ".sh"
        base.with_name(base.name + ".out").write_text(text)
        base.with_name(base.name + ".err").write_text(stderr)
        base.with_name(base.name + ".code").write_text(str(exit_code))

    def calls(self, cli: str | None = None) -> list[dict[str, object]]:
        """Every recorded call (`{"cli", "args", "stdin"}`), oldest first; only `cli`'s when given."""
        path = self.root / "calls.jsonl"
        if not path.exists():
            return []
        out = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [c for c in out if cli is None or c["cli"] == cli]
