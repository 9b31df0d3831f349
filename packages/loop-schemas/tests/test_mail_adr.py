from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from loop_schemas import (
    AdrStatus,
    SchemaError,
    accept_gate_problems,
    format_mail_name,
    parse_adr,
    parse_mail,
    parse_mail_name,
)


def test_mail_name_with_hyphenated_lanes() -> None:
    parsed = parse_mail_name("20260415-112233-validate-left-to-ops-top.md")
    assert (parsed.sender, parsed.recipient, parsed.seq) == ("validate-left", "ops-top", 1)
    assert parsed.timestamp == dt.datetime(2026, 4, 15, 11, 22, 33)
    assert parsed.file_name == "20260415-112233-validate-left-to-ops-top.md"


def test_mail_name_collision_suffix() -> None:
    parsed = parse_mail_name("20260415-112233-web-to-coord.3.md")
    assert parsed.seq == 3
    assert format_mail_name("web", "coord", parsed.timestamp, 3) == "20260415-112233-web-to-coord.3.md"


@pytest.mark.parametrize(
    "name",
    [
        "20261315-112233-web-to-coord.md",
        "20260415-112233-web-coord.md",
        "20260415-112233--to-coord.md",
        "x.md",
        "20260415-112233-web-to-coord.1.md",
        "20260415-112233-web-to-coord.txt",
    ],
)
def test_bad_mail_names(name: str) -> None:
    with pytest.raises(SchemaError):
        parse_mail_name(name)


def test_format_refuses_ambiguous_sender() -> None:
    with pytest.raises(SchemaError):
        format_mail_name("a-to-b", "coord", dt.datetime(2026, 1, 1))
    with pytest.raises(SchemaError):
        format_mail_name("web", "co ord", dt.datetime(2026, 1, 1))
    # `a-to` + `-to-` + `b` is `a-to-to-b`, which reads as from `a` to `to-b`
    with pytest.raises(SchemaError, match="end in '-to'"):
        format_mail_name("a-to", "b", dt.datetime(2026, 1, 1))
    with pytest.raises(SchemaError):  # `$` once let a trailing newline through
        format_mail_name("web\n", "coord", dt.datetime(2026, 1, 1))
    with pytest.raises(SchemaError):
        parse_mail_name("20260101-000000-web-to-coord.md\n")


lane_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,12}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(
    sender=lane_names,
    recipient=lane_names,
    seq=st.integers(1, 500),
    when=st.datetimes().map(lambda d: d.replace(microsecond=0)),
)
@example(sender="a-to", recipient="b", seq=1, when=dt.datetime(2026, 1, 1))
@example(sender="web", recipient="coord", seq=1, when=dt.datetime(999, 1, 2, 3, 4, 5))  # strftime: "999…"
def test_mail_names_round_trip(sender: str, recipient: str, seq: int, when: dt.datetime) -> None:
    try:
        name = format_mail_name(sender, recipient, when, seq)
    except SchemaError:
        assert "-to-" in sender + "-"
        return
    parsed = parse_mail_name(name)
    assert (parsed.sender, parsed.recipient, parsed.seq, parsed.timestamp) == (sender, recipient, seq, when)
    assert parsed.file_name == name


def test_mail_reply_subject() -> None:
    msg = parse_mail("---\nsubject: re:ask-12 done\n---\nbody\n")
    assert msg.frontmatter.reply_to == "ask-12"
    assert parse_mail("---\nsubject: Need token\n---\n").frontmatter.reply_to is None
    assert parse_mail("no frontmatter at all").frontmatter.subject is None


ADR = """---
status: Proposed
date: 2026-04-15
verify_record: docs/verify/queue.md
rollback: https://wiki.example.com/rollback
canary_record:
supersedes:
---
# 3. Choose the job queue: Redis vs SQS

Context.
"""


def test_parse_adr() -> None:
    adr = parse_adr(ADR, "docs/adr/0003-choose-the-job-queue.md")
    assert adr.number == 3 and adr.title == "Choose the job queue: Redis vs SQS"
    assert adr.frontmatter.status is AdrStatus.PROPOSED
    assert adr.frontmatter.date == "2026-04-15"


def test_accept_gate(tmp_path: Path) -> None:
    adr = parse_adr(ADR)
    problems = accept_gate_problems(adr, tmp_path)
    assert problems == ["verify_record: docs/verify/queue.md does not exist"]
    (tmp_path / "docs/verify").mkdir(parents=True)
    (tmp_path / "docs/verify/queue.md").write_text("proof")
    assert accept_gate_problems(adr, tmp_path) == []
    bare = parse_adr(ADR.replace("rollback: https://wiki.example.com/rollback", "rollback:"))
    assert any("rollback" in p for p in accept_gate_problems(bare, tmp_path))
    accepted = parse_adr(ADR.replace("status: Proposed", "status: accepted"))
    assert any("only a Proposed" in p for p in accept_gate_problems(accepted, tmp_path))


def test_adr_bad_status() -> None:
    with pytest.raises(SchemaError, match="status"):
        parse_adr(ADR.replace("Proposed", "Maybe"))


@pytest.mark.parametrize(
    ("body", "title"),
    [
        ("# 1. Use a queue\r\n\r\nbody\r\n", "Use a queue"),  # a CRLF file's title once ended in \r
        ("# Use a queue ##\n", "Use a queue"),  # closing #s, as loop-adr (shell) reads them
        ("#   \n", "use a queue"),  # a blank heading is no title: the file name's slug
        ("# Use\ta   queue\n", "Use a queue"),
    ],
)
def test_adr_title_is_one_clean_line(body: str, title: str) -> None:
    text = "---\nstatus: Proposed\n---\n" + body
    assert parse_adr(text, "0001-use-a-queue.md").title == title


@pytest.mark.parametrize(
    "subject", ["yes", "no", "0012", "12:30", "1e3", "0x10", "2026-01-01", ".inf", "true"]
)
def test_mail_subject_is_the_text_as_written(subject: str) -> None:
    # YAML typing once turned `yes` into "True" and `12:30` into "750"; the shell's loop-mail keeps the text
    msg = parse_mail(f"---\nsubject: {subject}\ntask: {subject}\n---\nbody\n")
    assert (msg.frontmatter.subject, msg.frontmatter.task) == (subject, subject)
    assert parse_mail("---\nsubject: ~\ntask:\n---\n").frontmatter.subject is None


@pytest.mark.parametrize("value", ["[1, 2]", "[re:ask-1]", "{a: 1}", "\n  - x\n  - y"])
def test_mail_list_or_mapping_subject_is_none_not_a_repr(value: str) -> None:
    # str() of a list once gave the subject "['1', '2']" (a Python repr, shown by `loop-engine improve`);
    # loop-digest and loop-mail report such a subject as null, and so does the model
    msg = parse_mail(f"---\nsubject: {value}\ntask: {value}\n---\nbody\n")
    assert (msg.frontmatter.subject, msg.frontmatter.task) == (None, None)
    assert msg.frontmatter.reply_to is None


@pytest.mark.parametrize(
    ("text", "head"),
    [
        # YAML refuses a colon and a space inside a bare value; the substrate's readers take the raw text
        ("---\nsubject: re: a-12 the port is 8080\n---\nbody\n", ("re: a-12 the port is 8080", None)),
        ("---\nsubject: 'done: T0003'\ntask: T0003\n---\n", ("done: T0003", "T0003")),
        ("---\r\nsubject: re: a-1: yes\r\nfrom: x: y\r\n---\r\n", ("re: a-1: yes", None)),
        ("---\nsubject: [a, b\n---\n", (None, None)),  # a broken list is no subject
        ("no frontmatter at all\n", (None, None)),
        ("---\nsubject: re: never closed\n", (None, None)),
    ],
)
def test_mail_head_reads_a_subject_yaml_refuses_as_the_shell_does(
    text: str, head: tuple[str | None, ...]
) -> None:
    from loop_schemas import mail_head

    assert mail_head(text) == head
