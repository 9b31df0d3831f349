"""A stub review lens for loop-verify's tests: plays one behaviour per lens, records what it got.

Which lens it plays: $LOOP_VERIFY_LENS. Its behaviour: $STUB_<LENS> (the lens name upper-cased, `-` as
`_`), default `pass`. It records into $STUB_LOG/<lens>.json: its pid, start and end stamps
(time.time()), its argv and the prompt it got (stdin, or the argument after `--prompt`).

Behaviours: pass, concerns, fail, none (no verdict block), two (two blocks), badjson, echo (prints its
prompt back), crash (exit 3), hang (writes a grandchild's pid, then sleeps long), sleep1 (sleeps 1 s,
then pass).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def block(verdict: str, findings: list[dict[str, str]], summary: str) -> str:
    body = json.dumps({"verdict": verdict, "findings": findings, "summary": summary})
    return f"```verdict\n{body}\n```\n"


def main() -> int:
    started = time.time()
    lens = os.environ.get("LOOP_VERIFY_LENS", "unknown")
    mode = os.environ.get("STUB_" + lens.upper().replace("-", "_"), "pass")
    prompt = sys.argv[sys.argv.index("--prompt") + 1] if "--prompt" in sys.argv else sys.stdin.read()
    log = Path(os.environ["STUB_LOG"])
    log.mkdir(parents=True, exist_ok=True)
    record: dict[str, object] = {"pid": os.getpid(), "start": started, "argv": sys.argv, "prompt": prompt}

    def save() -> None:
        tmp = log / f".{lens}.tmp"
        tmp.write_text(json.dumps(record))
        tmp.replace(log / f"{lens}.json")

    save()
    if mode == "hang":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        record["grandchild"] = child.pid
        save()
        time.sleep(120)
    if mode == "sleep1":
        time.sleep(1)
    answers = {
        "pass": "nothing to add\n" + block("pass", [], f"{lens}: fine"),
        "sleep1": block("pass", [], f"{lens}: fine"),
        "concerns": block("concerns", [{"severity": "low", "title": "naming", "detail": "a.py:1"}], "minor"),
        "fail": block("fail", [{"severity": "high", "title": "data loss", "detail": "b.py:2"}], "broken"),
        "none": "I reviewed it and it looks fine to me.\n",
        "two": block("pass", [], "one") + block("fail", [], "two"),
        "badjson": "```verdict\n{verdict: pass,}\n```\n",
        "echo": prompt,
    }
    if mode == "crash":
        sys.stderr.write("stub lens: boom\n")
        return 3
    sys.stdout.write(answers[mode])
    record["end"] = time.time()
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
