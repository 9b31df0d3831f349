"""Byte-identical copies of the bash substrate's stdlib helpers that loop-schemas shares (one source each).

The source of every module here is shell/lib/<name>.py. `make shared` refreshes the copies; a test
(tests/test_shared.py) fails when one differs from its source. The copies are committed (not produced at
build time) so that the uv workspace's editable install, an sdist and a wheel all carry the same bytes
with no build hook.
"""

SHARED = ("fsread.py", "frontmatter.py", "atomic.py", "tasks.py", "mail_index.py", "jsonlite.py")
"""The files of shell/lib this package carries."""
