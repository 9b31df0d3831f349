"""A DataTable refreshed by diff: rows are keyed, and only changed cells are written each tick."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from loop_deck.widgets.plain import printable


class KeyedTable(DataTable[Text]):
    """Rows are (key, cells). set_rows() adds, removes and updates cells in place, keeping the cursor.

    Cells are plain text, never markup, with control characters made visible: a mail subject or a payload
    shows as written and never reaches the terminal as an escape sequence.
    """

    def __init__(self, columns: Sequence[str], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._columns = tuple(columns)
        self._rows: dict[str, tuple[str, ...]] = {}
        self.writes = 0  # cells written since mount: lets tests see that an unchanged tick writes nothing
        # the columns exist from the start: rows set before the table's own Mount event was handled (the
        # first snapshot can win that race) would otherwise get columns sized by their headers alone
        for name in self._columns:
            self.add_column(name, key=name)

    @property
    def keys(self) -> list[str]:
        return list(self._rows)

    def row(self, key: str) -> list[str]:
        """A row's cells as the plain strings that were set."""
        return list(self._rows[key])

    def selected_key(self) -> str | None:
        if not self._rows or self.cursor_row < 0 or self.row_count == 0:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:  # the cursor is past the last row while rows are being replaced
            return None
        return str(row_key.value) if row_key.value is not None else None

    def set_rows(self, rows: Sequence[tuple[str, Sequence[str]]]) -> None:
        wanted = {key: tuple(cells) for key, cells in rows}
        kept = [k for k in self._rows if k in wanted]
        if kept != [k for k in wanted if k in self._rows]:
            self._rebuild(wanted)  # the order changed: rare, so a rebuild that keeps the cursor's row
            return
        new_keys = [k for k in wanted if k not in self._rows]
        if new_keys and list(wanted)[-len(new_keys) :] != new_keys:
            self._rebuild(wanted)  # a row arrives in the middle (new mail above processed mail)
            return
        removed = [k for k in self._rows if k not in wanted]
        selected = self.selected_key() if removed else None
        for key in removed:
            self.remove_row(key)
            del self._rows[key]
            self.writes += 1
        for key, cells in wanted.items():
            old = self._rows.get(key)
            if old is None:
                self.add_row(*(_cell(c) for c in cells), key=key)
                self.writes += len(cells)
            elif old != cells:
                for column, before, after in zip(self._columns, old, cells):  # noqa: B905 - same arity
                    if before != after:
                        self.update_cell(key, column, _cell(after), update_width=True)
                        self.writes += 1
            self._rows[key] = cells
        self._measure_now()
        if selected in self._rows:
            # a row above the cursor went away: the cursor stays on its row (the same lane, the same
            # mail), not on the row that slid into its place
            index = list(self._rows).index(selected)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False)

    def _rebuild(self, wanted: dict[str, tuple[str, ...]]) -> None:
        selected = self.selected_key()
        self.clear()
        self._rows = {}
        for key, cells in wanted.items():
            self.add_row(*(_cell(c) for c in cells), key=key)
            self.writes += len(cells)
            self._rows[key] = cells
        self._measure_now()
        if selected in self._rows:
            self.move_cursor(row=list(self._rows).index(selected))

    def _measure_now(self) -> None:
        """Size the columns to the cells just written, in the same step that wrote them.

        DataTable measures new and grown cells on its next idle, and keys its line caches by an update
        count that this measuring does not change. A frame painted before that idle (the first snapshot
        lands on a layout already on screen; a loaded machine paints in between) drew the rows at the
        old widths, and those lines stayed cached after the columns grew: a row drawn `coor  idle` until
        the cursor moved, a whole table at its headers' widths. Measuring here, before anything can paint,
        leaves no frame with rows and stale widths, and the idle nothing to do. (What DataTable._on_idle
        does, run now; the caches are dropped when a width moved, whatever was painted before.)
        """
        widths = [column.content_width for column in self.columns.values()]
        if self._updated_cells:
            updated = self._updated_cells.copy()
            self._updated_cells.clear()
            self._update_column_widths(updated)
        if self._require_update_dimensions:
            self._require_update_dimensions = False
            new_rows = self._new_rows.copy()
            self._new_rows.clear()
            self._update_dimensions(new_rows)
        if [column.content_width for column in self.columns.values()] != widths:
            self._clear_caches()
            self.refresh()


def _cell(value: str) -> Text:
    return Text(printable(value, multiline=False))
