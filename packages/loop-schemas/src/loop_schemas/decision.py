"""The brain's answer: one fenced ```decision block, YAML inside, parsed strictly.

A block that is malformed, missing, duplicated, too large or over the action cap is a parse failure
(DecisionParseError, one line) — never a partial decision. Policy is not the parser's: an action aimed
at the coord lane parses, and the engine's gate blocks that action alone (the rest of the decision is
gated as usual).
"""

# evaluated annotations, no `from __future__ import annotations`: pydantic would compile and eval each
# field's annotation text when it makes the class (loop-engine's tests/test_cycle_models.py)
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from loop_schemas._factories import empty_list
from loop_schemas._frontmatter import no_alias_loader
from loop_schemas.errors import SchemaError
from loop_schemas.fenced import extract_fenced_blocks

MAX_ACTIONS = 8
MAX_PAYLOAD = 16384
MAX_BLOCK_BYTES = 256 * 1024
WINDOW_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]+$"
LANE_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"


class DecisionParseError(SchemaError):
    """The brain's output holds no valid decision block."""


class _Action(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", str_strip_whitespace=False)

    rationale: Annotated[str, Field(min_length=1, max_length=MAX_PAYLOAD)]

    @field_validator("rationale")
    @classmethod
    def _rationale_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("rationale must not be blank")
        return value


class DispatchAction(_Action):
    kind: Literal["dispatch"]
    lane: Annotated[str, Field(pattern=LANE_PATTERN, max_length=64)]
    payload: Annotated[str, Field(min_length=1, max_length=MAX_PAYLOAD)]
    mode: Literal["text", "command"] = "text"
    wait_ready: bool = True


class AddLaneAction(_Action):
    kind: Literal["add_lane"]
    window: Annotated[str, Field(pattern=WINDOW_PATTERN, max_length=64)]
    harness: Annotated[str, Field(pattern=LANE_PATTERN, max_length=64)] | None = None
    cmd: Annotated[str, Field(min_length=1, max_length=MAX_PAYLOAD)] | None = None
    model: Annotated[str, Field(max_length=200)] | None = None
    role: Annotated[str, Field(max_length=200)] | None = None
    auto_approve: bool = False
    brief: Annotated[str, Field(max_length=MAX_PAYLOAD)] | None = None

    @model_validator(mode="after")
    def _harness_xor_cmd(self) -> "AddLaneAction":
        if (self.harness is None) == (self.cmd is None):
            raise ValueError("add_lane needs exactly one of harness or cmd")
        return self


class DropLaneAction(_Action):
    kind: Literal["drop_lane"]
    window: Annotated[str, Field(pattern=WINDOW_PATTERN, max_length=64)]


class SteerAction(_Action):
    kind: Literal["steer"]
    lane: Annotated[str, Field(pattern=LANE_PATTERN, max_length=64)]
    payload: Annotated[str, Field(min_length=1, max_length=MAX_PAYLOAD)]
    mode: Literal["text", "command"] = "text"
    interrupt: bool = True
    wait_for_idle: bool = False
    expects_reply: bool = False
    reply_timeout_s: Annotated[int, Field(gt=0, le=7 * 24 * 3600)] = 1800


class RepinModelAction(_Action):
    """Re-pin the model the engine uses for one harness (its brain calls): proposed by the engine when the
    pinned model is unavailable and the harness declares a `model_failover`. Always destructive, and it
    runs only by a human's approval (`loop-engine approve`), never in a cycle, whatever the mode."""

    kind: Literal["repin_model"]
    harness: Annotated[str, Field(pattern=LANE_PATTERN, max_length=64)]
    model: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")]
    from_model: Annotated[str, Field(max_length=200)] | None = None


class VerifyAction(_Action):
    """Verify a worktree lane's branch headless (`loop-verify`, detached; contract-later §10): the lane
    needs a ledger branch, not a pane."""

    kind: Literal["verify"]
    lane: Annotated[str, Field(pattern=WINDOW_PATTERN, max_length=64)]


class BuildAction(_Action):
    """Build on a worktree lane's branch headless (a one-shot agent run in its worktree, detached): the
    brief is the agent's task; the engine wraps it with rules (no merge, push, reinstall, branch switch)."""

    kind: Literal["build"]
    window: Annotated[str, Field(pattern=WINDOW_PATTERN, max_length=64)]
    brief: Annotated[str, Field(min_length=1, max_length=MAX_PAYLOAD)]


class MergeAction(_Action):
    """Merge a lane's verified branch into the base in the main checkout (beyond the original): always
    destructive, run only by a human's approval, by the engine itself (fast-forward, else a merge commit)."""

    kind: Literal["merge"]
    lane: Annotated[str, Field(pattern=WINDOW_PATTERN, max_length=64)]


class StopAction(_Action):
    kind: Literal["stop"]


class EscalateAction(_Action):
    kind: Literal["escalate"]
    summary: Annotated[str, Field(min_length=1, max_length=MAX_PAYLOAD)]


# every action kind, in the union's order (the engine's gate keeps the same tuple: a test holds them equal)
ACTION_KINDS = (
    "dispatch",
    "add_lane",
    "drop_lane",
    "steer",
    "stop",
    "escalate",
    "repin_model",
    "verify",
    "build",
    "merge",
)

Action = Annotated[
    DispatchAction
    | AddLaneAction
    | DropLaneAction
    | SteerAction
    | StopAction
    | EscalateAction
    | RepinModelAction
    | VerifyAction
    | BuildAction
    | MergeAction,
    Field(discriminator="kind"),
]


class Decision(BaseModel):
    """Version 1 of the decision block: a critique and at most eight typed actions."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    version: Literal[1]
    critique: Annotated[str, Field(min_length=1, max_length=MAX_PAYLOAD)]
    actions: Annotated[list[Action], Field(max_length=MAX_ACTIONS)] = Field(default_factory=empty_list)

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_a_number(cls, value: object) -> object:
        if isinstance(value, bool):  # True == 1 in Python: `version: true` (or `yes`) passed as version 1
            raise ValueError("version must be the number 1")
        return value

    @field_validator("critique")
    @classmethod
    def _critique_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("critique must not be blank")
        return value


def extract_decision_blocks(text: str) -> list[str]:
    """The bodies of every fenced block whose info string is exactly `decision`."""
    try:
        return extract_fenced_blocks(text, "decision")
    except SchemaError as exc:
        raise DecisionParseError(str(exc)) from None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ACTION_KINDS)
    msg = str(err.get("msg", "invalid")).replace("Value error, ", "")
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{loc or 'decision'}: {msg}{suffix}"


def parse_decision_dict(data: object) -> Decision:
    if not isinstance(data, dict):
        raise DecisionParseError("the decision block must be a YAML mapping")
    actions = data.get("actions")
    if isinstance(actions, list) and len(actions) > MAX_ACTIONS:
        raise DecisionParseError(f"actions: {len(actions)} actions, at most {MAX_ACTIONS} are allowed")
    try:
        return Decision.model_validate(data)
    except ValidationError as exc:
        raise DecisionParseError(_first_error(exc)) from None


def parse_decision_block(text: str) -> Decision:
    """Find exactly one ```decision block in the brain's output and validate it."""
    if len(text.encode("utf-8", errors="replace")) > 4 * MAX_BLOCK_BYTES:
        raise DecisionParseError("brain output is too large to hold a decision")
    blocks = extract_decision_blocks(text)
    if not blocks:
        raise DecisionParseError("no ```decision block in the brain's output")
    if len(blocks) > 1:
        raise DecisionParseError(f"{len(blocks)} ```decision blocks; exactly one is allowed")
    body = blocks[0]
    if len(body.encode("utf-8", errors="replace")) > MAX_BLOCK_BYTES:
        raise DecisionParseError("the decision block is too large")
    import yaml  # loaded here, by the first answer (the engine reads an empty decision while its brain runs)

    try:
        data = yaml.load(body, Loader=no_alias_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DecisionParseError(f"the decision block is not valid YAML{where}: {problem}") from None
    except (ValueError, RecursionError) as exc:
        raise DecisionParseError(f"the decision block is not valid YAML: {exc}") from None
    return parse_decision_dict(data)
