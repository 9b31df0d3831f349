"""The loop-engine process ends without tearing the interpreter down (cli.run -> cli._end): its atexit
handlers run and its output is flushed, its exit code is the command's, but the modules and model classes
it loaded are not freed one by one. While another thread is alive, the interpreter ends as usual."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# runs the CLI as `python -m loop_engine` does, with an atexit handler and an object whose finalizer
# speaks only when the interpreter tears the modules down
RUN = (
    "import atexit, os, runpy, sys, threading\n"
    "class Finalized:\n"
    "    def __del__(self, write=os.write):\n"
    "        write(2, b'FINALIZED\\n')\n"
    "sys.modules['finalized_probe'] = type(sys)('finalized_probe')\n"
    "sys.modules['finalized_probe'].obj = Finalized()\n"
    "atexit.register(lambda: sys.stderr.write('ATEXIT\\n'))\n"
    "if sys.argv.pop(1) == 'thread':\n"
    "    def work(write=os.write):\n"
    "        threading.Event().wait(0.3)\n"
    "        write(2, b'THREAD DONE\\n')\n"
    "    threading.Thread(target=work).start()\n"
    "sys.argv[0] = 'loop-engine'\n"
    "runpy.run_module('loop_engine', run_name='__main__', alter_sys=True)\n"
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOP_", "TMUX"))}
    return subprocess.run(
        [sys.executable, "-c", RUN, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.mark.parametrize(("args", "code"), [(["--version"], 0), (["no-such-command"], 2)])
def test_the_process_ends_without_tearing_the_interpreter_down(args: list[str], code: int) -> None:
    proc = run("main", *args)
    assert proc.returncode == code, proc.stderr
    assert "ATEXIT" in proc.stderr
    assert "FINALIZED" not in proc.stderr
    if code == 0:
        assert proc.stdout.strip(), "the output was flushed"
    else:
        assert "No such command" in proc.stderr


def test_a_failing_command_keeps_its_exit_code_and_its_message() -> None:
    proc = run("main", "--project-root", "/nonexistent/loop-engine-exit", "--session", "s", "status")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines()[0].startswith("Error:")
    assert "FINALIZED" not in proc.stderr


def test_a_live_thread_gets_the_usual_shutdown() -> None:
    """The interpreter waits for a thread that is still working; os._exit would kill it."""
    proc = run("thread", "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
    assert "ATEXIT" in proc.stderr
    assert "THREAD DONE" in proc.stderr
