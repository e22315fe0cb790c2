// Windowed rendering of a long list laid out as a grid of equal-height cards: only the rows of
// cards in view (plus a few above and below) are in the DOM; padding above and below stands in
// for the rest so the scrollbar matches the whole list. Pure geometry here (unit-tested in
// web/test/window.test.mjs); the hook that measures the DOM is useGridWindow in hooks.js.

// count cards in `cols` columns, one row every `pitch` px, viewport `height` px scrolled to
// `top`: {start, end} (cards [start, end) to render), {padTop, padBottom} (px), {firstRow,
// lastRow, rows}.
export function gridWindow({ count, cols, pitch, top, height, overscan = 2 }) {
  const c = Math.max(1, Math.floor(cols) || 1);
  const p = Math.max(1, pitch || 1);
  const rows = Math.ceil(Math.max(0, count) / c);
  const view = Math.ceil(Math.max(0, height) / p);
  // Scrolled past the end (the list just shrank): show its last rows, never nothing.
  const firstRow = Math.min(Math.max(0, rows - view - overscan), Math.max(0, Math.floor(Math.max(0, top) / p) - overscan));
  const lastRow = Math.min(rows, Math.max(firstRow + view, Math.floor(Math.max(0, top) / p) + view) + overscan);
  const last = Math.max(firstRow, lastRow);
  return {
    start: firstRow * c,
    end: Math.min(count, last * c),
    padTop: firstRow * p,
    padBottom: Math.max(0, (rows - last) * p),
    firstRow,
    lastRow: last,
    rows,
  };
}
