"""The deck's widgets."""

from loop_deck.widgets.keyed_table import KeyedTable
from loop_deck.widgets.plain import PlainLog, PlainStatic, printable

__all__ = ["KeyedTable", "PlainLog", "PlainStatic", "printable"]
