#!/usr/bin/env python3
"""detached.py CMD [ARG...]: run CMD outside this process's ancestry, as a human's command runs.

The human gate (lib/identity.py) refuses a caller with an AI harness or an AI lane's pane among its
ancestors, so a test that stands for a human at their own shell must not descend from whatever runs the
test suite (an agent may well run it). CMD runs in a grandchild of a new session whose parent has exited
(the child waits until it has been re-parented to init or the nearest subreaper); its stdin, stdout and
stderr are ours, and its exit status is ours.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("usage: detached.py CMD [ARG...]\n")
        return 2
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(read_end)
        os.setsid()
        if os.fork() == 0:
            while os.getppid() == middle:  # until the middle process has exited and we are re-parented
                time.sleep(0.01)
            rc = subprocess.call(argv)
            os.write(write_end, str(rc).encode())
            os._exit(0)
        os._exit(0)
    os.close(write_end)
    os.waitpid(middle, 0)
    data = b""
    while True:
        chunk = os.read(read_end, 64)
        if not chunk:
            break
        data += chunk
    return int(data) if data.strip().lstrip(b"-").isdigit() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
