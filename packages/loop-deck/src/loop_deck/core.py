"""What the deck needs before its first paint: the session's paths, the lane names and a few pure helpers.

Nothing here imports pydantic or the schema models (loop_deck.snapshot does, with the Reader): the deck
paints its layout with this module and Textual alone, and its refresh worker imports the rest after
that first paint (CONTRACT: the deck is a strict non-writer; this module only names files).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loop_deck.snapshot import Reader

# Fixed lanes whose pane lives inside a shared window.
_LANE_WINDOW = {
    "validate-left": "validate",
    "validate-right": "validate",
    "ops-top": "ops",
    "ops-bottom": "ops",
}
BASE_WINDOWS = ("coord", "web", "infra", "validate", "ops", "docs")
# the decision actions whose lane has a verify report the deck shows (loop_deck.verify reads them)
VERIFY_KINDS = frozenset({"verify", "build", "merge"})
Clock = Callable[[], float]
FileKey = tuple[int, int, int]


@dataclass(frozen=True)
class DeckPaths:
    """The files the deck reads for one session of one project."""

    project_root: Path
    session: str
    state_dir: Path | None = None  # where lane-restarts.jsonl and deck-crash.log live
    adr_dir: Path | None = None

    @property
    def loop_dir(self) -> Path:
        return self.project_root / ".loop"

    @property
    def state_file(self) -> Path:
        return self.loop_dir / "orchestrator-state.json"

    @property
    def mailbox(self) -> Path:
        return self.loop_dir / "messages"

    @property
    def session_dir(self) -> Path:
        return self.state_dir if self.state_dir is not None else self.loop_dir / "sessions" / self.session

    @property
    def engine_dir(self) -> Path:
        return self.loop_dir / "sessions" / self.session / "engine"

    @property
    def verify_dir(self) -> Path:
        """Where the engine's verify runs write their reports (`<w>-<token>.json`)."""
        return self.loop_dir / "sessions" / self.session / "verify"

    @property
    def restarts_log(self) -> Path:
        return self.session_dir / "lane-restarts.jsonl"

    @property
    def crash_log(self) -> Path:
        return self.session_dir / "deck-crash.log"

    @property
    def adrs(self) -> Path:
        if self.adr_dir is not None:
            return self.adr_dir
        env = os.environ.get("LOOP_ADR_DIR")
        if env:
            path = Path(env)
            return path if path.is_absolute() else self.project_root / path
        return self.project_root / "docs" / "adr"


def lane_window(lane: str) -> str:
    return _LANE_WINDOW.get(lane, lane)


def find_engine() -> str | None:
    """The loop-engine CLI: $LOOP_DECK_ENGINE, else `loop-engine` on PATH, else None (dashboard only)."""
    return os.environ.get("LOOP_DECK_ENGINE") or shutil.which("loop-engine")


def ago(seconds: float) -> str:
    """Coarse on purpose: the text changes at most once a minute, so idle ticks rewrite no cell."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return "<1m"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d"


def one_line(exc: BaseException | str) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else (exc.__class__.__name__ if isinstance(exc, BaseException) else "")


# spinner glyphs: ASCII (|/-\\), braille, and the stars and dots harnesses animate
SPINNER_GLYPHS = frozenset("|/-\\⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏⣾⣽⣻⢿⡿⣟⣯⣷✻✶✳✢·*◐◓◑◒")
MAX_FRAME_LINES = 24  # the demo agent redraws a header, its last 12 prompts and a status line


def _frame_key(line: str) -> str:
    return "".join("\0" if c in SPINNER_GLYPHS else c for c in line.rstrip())


def collapse_frames(text: str) -> str:
    """A pane tail with each run of repeated frames (a block of up to MAX_FRAME_LINES lines drawn again
    and again, alike but for spinner glyphs) shown once, as its last frame, under one line that says how
    many were folded. Blank blocks are kept as they are."""
    lines = text.split("\n")
    keys = [_frame_key(line) for line in lines]
    out: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        best_k, best_r = 0, 1
        for k in range(1, MAX_FRAME_LINES + 1):
            if i + 2 * k > n:
                break
            block = keys[i : i + k]
            if not any(block):
                continue
            r = 1
            while i + (r + 1) * k <= n and keys[i + r * k : i + (r + 1) * k] == block:
                r += 1
            if r >= 2 and r * k > best_r * best_k:
                best_k, best_r = k, r
        if best_k:
            lines_word = "line" if best_k == 1 else f"{best_k}-line block"
            out.append(f"⋮ ({best_r - 1} repeated frame(s) of this {lines_word} folded)")
            last = i + (best_r - 1) * best_k
            out.extend(lines[last : last + best_k])
            i += best_r * best_k
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out)


@dataclass(frozen=True)
class ReaderPlan:
    """How to build the session's Reader, handed to the deck instead of the Reader itself: building it
    imports the Substrate client, pydantic and the schema models, which the first paint does not need.
    The deck's refresh worker calls `build` after that paint (or the UI thread, when an action needs the
    reader sooner)."""

    paths: DeckPaths
    build: Callable[[], Reader]
