"""The deck's modal screens: confirmations, prompts, the add-lane form, a mail viewer, help."""

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
