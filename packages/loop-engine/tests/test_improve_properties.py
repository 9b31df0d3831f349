"""Property tests for improve's parser of the brain's answer and for the surface edits it may make."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loop_engine.improve_mine import Cluster, Evidence
from loop_engine.improve_proposals import (
    EDIT_SURFACES,
    ProposalParseError,
    RejectedError,
    check_candidate,
    parse_improve_block,
)
from loop_engine.improve_surfaces import (
    CONFIG_KEYS,
    EditError,
    SurfaceText,
    apply_edit,
    insert_experiment,
    set_engine_key,
)
from loop_schemas import parse_lane_config
from test_improve_seed import AGENTS_MD, LANE_CONFIG

ROOT = Path("/nonexistent/proj")
FILES = {"header": ".loop/engine-header.md", "agents": "AGENTS.md", "config": "lane-config.yaml"}
SURFACES: dict[str, SurfaceText | EditError] = {
    "header": SurfaceText(ROOT / FILES["header"], "# Header\n\nBe good.\n", False),
    "agents": SurfaceText(ROOT / FILES["agents"], AGENTS_MD, True),
    "config": SurfaceText(ROOT / FILES["config"], LANE_CONFIG, True),
}
ALLOWED = {s: Cluster(s, [Evidence("e-1")]) for s in ("brain:parse", "ask:timeout", "brain:timeout")}

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=False), st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
field_names = st.sampled_from(
    ["signature", "surface", "file", "title", "rationale", "edit", "command", "path"]
)


def edits() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.fixed_dictionaries(
            {"op": st.sampled_from(["append", "replace", "set", "delete"])},
            optional={
                "text": st.one_of(texts, st.just("### Experiment 2026-01-01 x\nbody")),
                "old": st.sampled_from(["Be good.", "Report by mail.", "nope"]),
                "new": texts,
                "section": st.sampled_from(["Mail", "1. Lanes and roles", "Nope", ""]),
                "key": st.sampled_from([*CONFIG_KEYS, "approval_mode", "brain.harness"]),
                "value": json_scalars,
            },
        ),
        json_values,
    )


proposal_items = st.fixed_dictionaries(
    {},
    optional={
        "signature": st.one_of(st.sampled_from([*ALLOWED, "crash:engine", "made:up"]), json_scalars),
        "surface": st.one_of(st.sampled_from([*EDIT_SURFACES, "none", "file"]), json_scalars),
        "file": st.one_of(
            st.sampled_from([*FILES.values(), "src/app.py", "../AGENTS.md", "/etc/passwd"]), texts
        ),
        "title": st.one_of(texts, json_scalars),
        "rationale": st.one_of(texts, json_scalars),
        "edit": edits(),
        "command": texts,
    },
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(texts, texts.map(lambda t: f"```improve\n{t}\n```\n")))
def test_parser_never_raises_anything_else(text: str) -> None:
    try:
        items = parse_improve_block(text)
    except ProposalParseError as exc:
        assert str(exc)
        return
    assert isinstance(items, list)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(st.text(min_size=1, max_size=10), json_values, max_size=5), max_size=5))
def test_a_dumped_block_parses_back_to_the_same_items(items: list[dict[str, Any]]) -> None:
    items = json.loads(json.dumps(items))
    text = "prose before\n```improve\n" + yaml.safe_dump({"version": 1, "proposals": items}) + "```\nafter\n"
    assert parse_improve_block(text) == items


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(proposal_items, json_values))
def test_a_checked_proposal_only_ever_edits_its_declared_surface(raw: Any) -> None:
    check_invariants(raw)


def check_invariants(raw: Any) -> bool:
    """Either a rejection with a reason, or a candidate that edits only its surface (True)."""
    try:
        cand = check_candidate(
            raw, allowed=ALLOWED, surfaces=SURFACES, surface_files=FILES, project_root=ROOT, source="pi"
        )
    except RejectedError as exc:
        assert exc.rejection.reason
        return False
    assert cand.surface in EDIT_SURFACES and cand.path == FILES[cand.surface]
    assert cand.signature in ALLOWED
    assert set(raw) <= {"signature", "surface", "file", "title", "rationale", "edit"}
    current = SURFACES[cand.surface]
    assert isinstance(current, SurfaceText) and cand.edit is not None
    new = apply_edit(cand.surface, current.text, cand.edit)
    assert new != current.text
    if cand.surface == "agents":
        # append-only: removing one inserted run of text gives back the original exactly
        i = next(k for k in range(len(new)) if new[k] != current.text[k : k + 1])
        tail = len(current.text) - i
        assert new[:i] + (new[len(new) - tail :] if tail else "") == current.text
        assert cand.edit["op"] == "append"
    if cand.surface == "config":
        engine = parse_lane_config(new).engine
        assert engine is not None
    return True


headings = st.sampled_from(
    ["## 1. Lanes", "## 2. Mail", "# Title", "### Sub", "```", "text", "", "## 2. Mail"]
)


@settings(max_examples=300)
@given(st.lists(headings, max_size=15), st.booleans(), st.sampled_from([None, "Lanes", "Mail", "Nope"]))
def test_an_experiment_insertion_keeps_the_original_around_it(
    lines: list[str], newline: bool, section: Any
) -> None:
    text = "\n".join(lines) + ("\n" if newline else "")
    block = "### Experiment 2026-01-01 probe\nbody line"
    try:
        new = insert_experiment(text, block, section)
    except EditError:
        return
    at = new.index(block)
    before = new[:at].rstrip("\n")
    after = new[at + len(block) :].lstrip("\n")
    assert text.startswith(before) and text.endswith(after)
    assert new.count(block) == 1 and len(new) > len(text)


@settings(max_examples=200)
@given(st.sampled_from(sorted(CONFIG_KEYS)), st.integers(0, 7200))
def test_set_engine_key_sets_exactly_that_key(key: str, value: int) -> None:
    _kind, low, high = CONFIG_KEYS[key]
    try:
        new = apply_edit("config", LANE_CONFIG, {"op": "set", "key": key, "value": value})
    except EditError:
        assert not low <= value <= high
        return
    before = parse_lane_config(LANE_CONFIG).model_dump(mode="json")
    after = parse_lane_config(new).model_dump(mode="json")
    target: Any = after["engine"]
    for part in key.split(".")[:-1]:
        target = target[part]
    assert target[key.rsplit(".", maxsplit=1)[-1]] == value
    assert after["lanes"] == before["lanes"] and after["engine"]["approval_mode"] == "manual"
    assert new.startswith("# the project's lane config") and "# a human approves" in new
    assert set_engine_key(new, key, value) == new  # idempotent


body_lines = st.text(
    alphabet=st.characters(whitelist_categories=("L", "N", "Zs", "P"), blacklist_characters="#<>"),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip() != "")


@st.composite
def valid_proposals(draw: st.DrawFn) -> dict[str, Any]:
    surface = draw(st.sampled_from(EDIT_SURFACES))
    if surface == "header":
        edit: dict[str, Any] = {"op": "append", "text": draw(body_lines)}
    elif surface == "agents":
        lines = draw(st.lists(body_lines, min_size=1, max_size=4))
        edit = {"op": "append", "text": "### Experiment 2026-02-03 probe\n" + "\n".join(lines)}
        section = draw(st.sampled_from([None, "Mail", "1. Lanes and roles", "Experiment protocol"]))
        if section:
            edit["section"] = section
    else:
        key = draw(st.sampled_from(sorted(CONFIG_KEYS)))
        _kind, low, high = CONFIG_KEYS[key]
        edit = {"op": "set", "key": key, "value": draw(st.integers(int(low), int(high)))}
    item = {
        "signature": draw(st.sampled_from(sorted(ALLOWED))),
        "surface": surface,
        "title": draw(body_lines),
        "rationale": draw(body_lines),
        "edit": edit,
    }
    if draw(st.booleans()):
        item["file"] = FILES[surface]
    return item


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(valid_proposals())
def test_well_formed_proposals_on_declared_surfaces_are_accepted(raw: dict[str, Any]) -> None:
    text = "```improve\n" + yaml.safe_dump({"version": 1, "proposals": [raw]}) + "```\n"
    (item,) = parse_improve_block(text)
    try:
        cand = check_candidate(
            item, allowed=ALLOWED, surfaces=SURFACES, surface_files=FILES, project_root=ROOT, source="pi"
        )
    except RejectedError as exc:
        # the only acceptable refusal of a well-formed item: a config value equal to the current one
        assert raw["surface"] == "config" and "changes nothing" in exc.rejection.reason
        return
    assert cand.path == FILES[raw["surface"]] and cand.edit == raw["edit"]
    assert check_invariants(item)
