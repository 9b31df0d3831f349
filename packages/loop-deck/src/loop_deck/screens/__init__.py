"""The deck's modal screens: confirmations, prompts, the add-lane form, a mail viewer, help.

Imported on first use (PEP 562): the modals pull in Textual's form widgets, which the deck does not need
before its first paint.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loop_deck.screens.modals import (
        AddLaneRequest,
        AddLaneScreen,
        ConfirmScreen,
        CostScreen,
        HelpScreen,
        MessageScreen,
        RejectScreen,
        RosterScreen,
        SessionsScreen,
        TextPromptScreen,
        TextRequest,
        TypedConfirmScreen,
    )

__all__ = [
    "AddLaneRequest",
    "AddLaneScreen",
    "ConfirmScreen",
    "CostScreen",
    "HelpScreen",
    "MessageScreen",
    "RejectScreen",
    "RosterScreen",
    "SessionsScreen",
    "TextPromptScreen",
    "TextRequest",
    "TypedConfirmScreen",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module("loop_deck.screens.modals"), name)
