"""The portability lint must catch each bash >= 4 construct and pass 3.2-clean code."""

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


def test_shell_tree_is_clean() -> None:
    shell = Path(__file__).parents[1] / "shell"
    assert lint.main([str(shell)]) == 0
