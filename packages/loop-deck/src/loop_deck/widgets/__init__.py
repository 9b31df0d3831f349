"""The deck's widgets."""

from loop_deck.widgets.keyed_table import KeyedTable

__all__ = ["KeyedTable"]
