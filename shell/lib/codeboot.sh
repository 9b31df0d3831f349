#!/usr/bin/env bash
# codeboot.sh: LOOP_CODEBOOT, sourced by common.sh, and alone by loop-lane-status's fleet question (its
# hot path execs python before common.sh would be read). Sourced, never executed. bash >= 3.2.

# LOOP_CODEBOOT: the python program that starts lib/codeboot.py, run as
#   "$py" -S -c "$LOOP_CODEBOOT" "$LOOP_LIB_DIR" CACHE_DIR MODULE[,MODULE...] ARGS...
# Python compiles a script it runs on every call but imports a module from its bytecode, so codeboot is
# imported: only these lines are compiled. `python -c` puts the current directory ('') first on sys.path;
# it is replaced by lib/, so a file a lane writes into the project (codeboot.py, posix.py) is never
# imported instead of ours or the standard library's. sys and posix are built into the interpreter.
# codeboot's bytecode is kept in CACHE_DIR/boot (sys.pycache_prefix, for that one import) when CACHE_DIR
# is a folder of ours nobody else can write, so no call compiles it again: not under
# PYTHONDONTWRITEBYTECODE, not from a lib/ we cannot write (~3.5 ms a call). Any other CACHE_DIR (none
# yet, another account's): python's own rule, lib/__pycache__.
# shellcheck disable=SC2016,SC2034 # the python program is literal; its users are the sourcing scripts
LOOP_CODEBOOT='import sys, posix
a = sys.argv; p = sys.path; p[:] = [a[1], *filter(None, p)]; k = sys.pycache_prefix, sys.dont_write_bytecode
try: s = posix.lstat(a[2])
except OSError: s = None
if s and s.st_uid == posix.getuid() and s.st_mode & 0o170022 == 0o40000: sys.pycache_prefix = a[2] + "/boot"; sys.dont_write_bytecode = False
import codeboot; sys.pycache_prefix, sys.dont_write_bytecode = k; codeboot.boot(a[2:])'
