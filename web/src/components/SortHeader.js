// A sortable column header: a button in the <th> (keyboard and screen readers reach it) that
// sets the list's server-side `sort` ("col" ascending, "-col" descending; a second click on
// the same column flips the direction); the <th> carries aria-sort.
import { html } from 'htm/preact';

// The next sort after a click on col, given the current one.
export function nextSort(current, col) {
  if (current === col) return `-${col}`;
  return col;
}

export function SortHeader({ col, label, sort, onSort, testPrefix, className }) {
  const dir = sort === col ? 'ascending' : sort === `-${col}` ? 'descending' : 'none';
  const arrow = dir === 'ascending' ? '▲' : dir === 'descending' ? '▼' : '↕';
  return html`<th scope="col" class=${className || ''} aria-sort=${dir}>
    <button type="button" class="th-sort" data-testid=${`${testPrefix}-sort-${col}`} data-dir=${dir} onClick=${() => onSort(nextSort(sort, col))}>
      ${label}<span class="sort-arrow" aria-hidden="true">${arrow}</span>
    </button>
  </th>`;
}
