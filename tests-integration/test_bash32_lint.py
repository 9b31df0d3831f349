"""The portability lint must catch each bash >= 4 construct and each GNU-only userland use, and pass
portable code (stock macOS: bash 3.2 and the BSD userland)."""

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "bash32_lint", Path(__file__).parents[1] / "tools" / "bash32_lint.py"
)
assert _spec and _spec.loader
lint = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lint)

BAD = {
    "assoc-array": "declare -A map",
    "mapfile": "mapfile -t lines < f",
    "case-mod": 'echo "${name,,}"',
    "nameref": "local -n ref=$1",
    "append-both": "cmd &>> log",
    "pipe-both": "cmd |& tee",
    "test-v": "if [[ -v FOO ]]; then :; fi",
    "at-transform": 'echo "${x@Q}"',
    "neg-substring": 'echo "${x: -3}"',
    "coproc": "coproc cat",
    "wait-n": "wait -n",
    "epoch-vars": "echo $EPOCHSECONDS",
    "empty-array-expansion": 'run "${args[@]}"',
    "read-N": "read -N 4 chunk",
    "read-t-fraction": "read -t 0.5 -r line",
    "declare-g": "declare -g COUNT=0",
    "local-dash": "local -",
    "case-fallthrough": "case $x in a) echo a ;& b) echo b ;; esac",
    "bashpid": "echo $BASHPID",
    "named-fd": "exec {fd}>log",
    "brace-seq": "for i in {01..10}; do :; done",
    "ansi-unicode": "star=$'\\u2605'",
}

# Each userland rule: a line stock macOS (BSD userland) runs differently or not at all, and the
# portable line it should be written as (which must pass every rule).
USERLAND = {
    "sed-inplace": ("sed -i 's/a/b/' f", "sed -i.bak 's/a/b/' f && rm -f f.bak"),
    "sed-gnu": ("x=$(sed -r 's/(a)+/b/' f)", "x=$(sed -E 's/(a)+/b/' f)"),
    "grep-gnu": ("grep -oP '\\d+' f", "grep -oE '[0-9]+' f"),
    "readlink-f": ('self=$(readlink -f "$0")', 'link=$(readlink "$0")'),
    "date-gnu": ("ms=$(date +%s%N)", "now=$(date -u +%Y-%m-%dT%H:%M:%SZ)"),
    "stat-gnu": ('size=$(stat -c %s "$f")', 'size=$(wc -c <"$f")'),
    "mktemp-gnu": ("tmp=$(mktemp --suffix .txt)", 'tmp=$(mktemp "${TMPDIR:-/tmp}/x.XXXXXX")'),
    "find-gnu": ("find . -name '*.md' -printf '%p\\n'", "find . -name '*.md' -print"),
    "xargs-gnu": ("printf '%s\\n' \"$@\" | xargs -r rm --", "printf '%s\\0' \"$@\" | xargs -0 rm --"),
    "sort-gnu": ("sort -V versions", "sort -t. -k1,1n -k2,2n versions"),
    "head-tail-gnu": ("head -n -1 f", "tail -n +2 f"),
    "ps-gnu": ("ps -eo pid,comm", "ps -A -o pid= -o comm="),
    "echo-escape": ("echo -e 'a\\tb'", "printf 'a\\tb\\n'"),
    "awk-gnu": ("awk '{ print strftime() }' f", "awk '{ print $1 }' f"),
    "coreutils-gnu": ("ln -rs target link", "ln -sfn target link"),
    "sleep-suffix": ("sleep 1m", "sleep 0.3"),
    "missing-command": ("timeout 5 make", 'loop_die "--ready-timeout must be a number"; timeout=60'),
}


@pytest.mark.parametrize("rule", sorted(BAD))
def test_each_construct_is_rejected(rule: str) -> None:
    findings = lint.lint_text("x.sh", "#!/usr/bin/env bash\n" + BAD[rule] + "\n")
    assert any(f"[{rule}]" in f for f in findings), findings


def test_portable_code_passes() -> None:
    good = (
        "#!/usr/bin/env bash\nset -euo pipefail\n"
        'run ${args[@]+"${args[@]}"}\n'
        "lower=$(printf '%s' \"$x\" | tr '[:upper:]' '[:lower:]')\n"
        "# declare -A in a comment is fine\n"
        "cat <<EOF\nmapfile in a heredoc is text\nEOF\n"
    )
    assert lint.lint_text("x.sh", good) == []


def test_allow_comment_opts_out_of_one_rule() -> None:
    text = 'run "${args[@]}"  # bash32: allow empty-array-expansion\n'
    assert lint.lint_text("x.sh", text) == []


@pytest.mark.parametrize("rule", sorted(USERLAND))
def test_each_userland_rule_catches_bad_and_passes_good(rule: str) -> None:
    bad, good = USERLAND[rule]
    findings = lint.lint_text("x.sh", "#!/usr/bin/env bash\n" + bad + "\n")
    assert any(f"[{rule}]" in f for f in findings), (bad, findings)
    assert lint.lint_text("x.sh", "#!/usr/bin/env bash\n" + good + "\n") == [], good


def test_userland_rules_read_commands_not_text() -> None:
    text = (
        "#!/usr/bin/env bash\n"
        'loop_die "timeout: sed -i and readlink -f are fine inside a message"\n'
        "cat <<EOF\nrun timeout 5 make, or sed -i in a heredoc\nEOF\n"
        "# realpath in a comment\n"
        "command -v timeout >/dev/null 2>&1 || echo none\n"
    )
    assert lint.lint_text("x.sh", text) == []
    # ...but a command inside $(...) in a double-quoted word, after `then`, or on a continued line is seen
    assert "[readlink-f]" in lint.lint_text("x.sh", 'x="$(readlink -f "$0")"\n')[0]
    assert "[missing-command]" in lint.lint_text("x.sh", "if true; then timeout 5 x; fi\n")[0]
    found = lint.lint_text("x.sh", "sed \\\n  -i 's/a/b/' f\n")
    assert len(found) == 1 and found[0].startswith("x.sh:1:") and "[sed-inplace]" in found[0]


def test_userland_allow_comment_for_a_detect_and_fallback_line() -> None:
    line = "if command -v timeout >/dev/null 2>&1; then timeout 5 make; else make; fi"
    assert lint.lint_text("x.sh", line + "\n")
    assert lint.lint_text("x.sh", line + "  # portability: allow missing-command\n") == []
    assert lint.lint_text("x.sh", line + "  # bash32: allow missing-command\n") == []


def test_python_helper_argv_is_checked() -> None:
    bad = 'import subprocess\nsubprocess.run(["ps", "-eo", "pid,comm"])\n'
    good = 'import subprocess\nsubprocess.run(["ps", "-A", "-o", "pid=", "-o", "comm="])\n'
    good += 'NAMES = ("sed", "a b")\n'
    assert any("[ps-gnu]" in f for f in lint.lint_python("x.py", bad))
    assert lint.lint_python("x.py", good) == []


def test_shell_tree_is_clean() -> None:
    shell = Path(__file__).parents[1] / "shell"
    assert lint.main([str(shell)]) == 0
