// A results table with search, sort, page size and page numbers. Its state lives in the page's URL
// (?q=&sort=&dir=&size=&page=), so a sorted, filtered page can be bookmarked and back/forward walk
// through the changes.

import { h, num, keepFocus } from './dom.js';

export const PAGE_SIZES = [10, 25, 50, 100];

// query reads the table's state from the URL, with defaults.
export function query(defaults = {}) {
  return parseQuery(location.search, defaults);
}

// parseQuery reads a table's state from a query string, with defaults for what it lacks or gets wrong.
export function parseQuery(search, defaults = {}) {
  const p = new URLSearchParams(search);
  const size = Number(p.get('size'));
  return {
    q: p.get('q') || '',
    sort: p.get('sort') || defaults.sort || '',
    dir: p.get('dir') === 'asc' || p.get('dir') === 'desc' ? p.get('dir') : defaults.dir || 'desc',
    size: PAGE_SIZES.includes(size) ? size : defaults.size || 25,
    page: Math.max(1, Math.floor(Number(p.get('page'))) || 1),
    state: p.get('state') || '',
  };
}

// setQuery writes changes into the URL: push adds a history entry (sort, page), otherwise the current
// entry is replaced (typing in the search box).
export function setQuery(changes, push) {
  const p = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === '' || v == null) p.delete(k);
    else p.set(k, String(v));
  }
  const qs = p.toString();
  const url = location.pathname + (qs ? `?${qs}` : '');
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

// Table: columns are {id, label, value(row) for sorting, cell(row) for display, num: right-aligned,
// minor: hidden on a phone, so the main figures stay on screen without scrolling sideways}.
export class Table {
  constructor({ name, columns, rowKey, searchText, defaults, caption, controls }) {
    this.columns = columns;
    this.rowKey = rowKey;
    this.searchText = searchText;
    this.defaults = defaults || {};
    this.rows = [];
    const q = query(this.defaults);
    this.search = searchText
      ? h('input', { type: 'search', value: q.q, placeholder: 'Search…', 'aria-label': `Search ${name}`, 'data-focus': 'search', class: 'search',
          oninput: (e) => this.change({ q: e.target.value, page: '' }, false) })
      : null;
    this.size = h('select', { 'aria-label': 'Rows per page', 'data-focus': 'size', class: 'size',
      onchange: (e) => this.change({ size: e.target.value, page: '' }, true) },
      PAGE_SIZES.map((n) => h('option', { value: n, selected: n === q.size }, `${n} rows`)));
    this.summary = h('p', { class: 'summary muted', 'aria-live': 'polite' });
    this.table = h('table', { class: 'data', 'data-table': name });
    if (caption) this.table.append(h('caption', { class: 'visually-hidden' }, caption));
    this.pager = h('nav', { class: 'pager', 'aria-label': `${name} pages` });
    this.download = h('button', { type: 'button', class: 'download', 'data-focus': 'download', onclick: () => this.save(name) }, 'Download CSV');
    this.el = h('section', { class: 'table-block' },
      h('div', { class: 'controls' }, this.search, controls || null, h('label', { class: 'size-label' }, 'Show ', this.size), this.download),
      h('div', { class: 'scroll' }, this.table), h('div', { class: 'below' }, this.summary, this.pager));
  }

  // save downloads every row the table shows (all pages, as searched and sorted) as CSV.
  save(name) {
    const { shown } = arrange(this.rows, query(this.defaults), this);
    const url = URL.createObjectURL(new Blob([toCSV(shown, this.columns)], { type: 'text/csv;charset=utf-8' }));
    const a = h('a', { href: url, download: `${name}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000); // after the download has surely begun
  }

  change(changes, push) {
    setQuery(changes, push);
    this.update(this.rows);
  }

  // update shows rows (all of them; the table filters, sorts and pages).
  update(rows) {
    this.rows = rows;
    const q = query(this.defaults);
    if (this.search && document.activeElement !== this.search && this.search.value !== q.q) this.search.value = q.q;
    this.size.value = String(q.size);
    const { shown, col, page, pages, first, visible } = arrange(rows, q, this);

    keepFocus(this.el, () => {
      this.table.replaceChildren(...[...this.table.children].filter((c) => c.tagName === 'CAPTION'),
        h('thead', {}, h('tr', {}, this.columns.map((c) => {
          const sorted = c === col;
          return h('th', { scope: 'col', class: cls(c), 'aria-sort': sorted ? (q.dir === 'asc' ? 'ascending' : 'descending') : 'none' },
            h('button', { type: 'button', 'data-focus': `sort-${c.id}`, 'data-sort': c.id,
              onclick: () => this.change({ sort: c.id, dir: sorted && q.dir === 'desc' ? 'asc' : sorted ? 'desc' : c.num ? 'desc' : 'asc', page: '' }, true) },
              c.label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, sorted ? (q.dir === 'asc' ? ' ▲' : ' ▼') : '')));
        }))),
        h('tbody', {}, visible.length ? visible.map((r) => h('tr', { 'data-key': this.rowKey(r) },
          this.columns.map((c, i) => h(i === 0 ? 'th' : 'td', { scope: i === 0 ? 'row' : null, class: cls(c),
            'data-col': c.id, 'data-value': c.num ? c.value(r) : null }, c.cell ? c.cell(r) : String(c.value(r))))))
          : h('tr', {}, h('td', { colspan: this.columns.length, class: 'muted' }, q.q ? `Nothing matches “${q.q}”.` : 'Nothing to show yet.'))));
      this.summary.replaceChildren(shown.length
        ? `Showing ${num(first + 1)}–${num(first + visible.length)} of ${num(shown.length)}`
        : 'Showing 0 of 0');
      this.summary.dataset.total = String(shown.length);
      this.pager.replaceChildren(...pager(page, pages, (n) => this.change({ page: n === 1 ? '' : n }, true)));
    });
  }
}

// toCSV writes rows as CSV (RFC 4180): a header of the column labels, then each row's sort values (the
// figures, unformatted). A text that a spreadsheet would run as a formula (starting with =, +, -, @, a tab
// or a carriage return: a candidate named "=HYPERLINK(…)") gets a leading apostrophe, so it stays text.
export function toCSV(rows, columns) {
  const cell = (v) => {
    let t = v == null ? '' : String(v);
    if (typeof v === 'string' && /^[=+\-@\t\r]/.test(t)) t = `'${t}`;
    return /[",\r\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
  };
  const lines = [columns.map((c) => cell(c.label)), ...rows.map((r) => columns.map((c) => cell(c.value(r))))];
  return lines.map((l) => l.join(',')).join('\r\n') + '\r\n';
}

function cls(c) {
  return [c.num ? 'num' : '', c.minor ? 'minor' : ''].filter(Boolean).join(' ') || null;
}

// arrange filters rows by the search text, sorts them by the chosen column (ties keep their order), and
// cuts out the page asked for (the last page if it asks past the end).
export function arrange(rows, q, { columns, searchText, defaults = {} }) {
  let shown = rows;
  if (q.q && searchText) {
    const needle = q.q.toLocaleLowerCase();
    shown = rows.filter((r) => searchText(r).toLocaleLowerCase().includes(needle));
  }
  const col = columns.find((c) => c.id === q.sort) || columns.find((c) => c.id === defaults.sort) || columns[0];
  const sign = q.dir === 'asc' ? 1 : -1;
  shown = shown.map((r, i) => [r, i]).sort(([a, i], [b, j]) => {
    const x = col.value(a), y = col.value(b);
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return c !== 0 ? sign * c : i - j;
  }).map(([r]) => r);
  const pages = Math.max(1, Math.ceil(shown.length / q.size));
  const page = Math.min(q.page, pages);
  const first = (page - 1) * q.size;
  return { shown, col, page, pages, first, visible: shown.slice(first, first + q.size) };
}

// pager builds page buttons: first, last, and a window around the current page.
function pager(page, pages, go) {
  const btn = (label, n, attrs = {}) => h('button', { type: 'button', 'data-focus': attrs.key || `page-${n}`, 'data-page': n,
    disabled: attrs.disabled, 'aria-current': n === page && !attrs.key ? 'page' : null, 'aria-label': attrs.label, onclick: () => go(n) }, label);
  const out = [btn('‹ Prev', page - 1, { key: 'prev', disabled: page <= 1, label: 'Previous page' })];
  let last = 0;
  for (let n = 1; n <= pages; n++) {
    if (n !== 1 && n !== pages && Math.abs(n - page) > 2) continue;
    if (n - last > 1) out.push(h('span', { class: 'gap', 'aria-hidden': 'true' }, '…'));
    out.push(btn(String(n), n, { label: `Page ${n}` }));
    last = n;
  }
  out.push(btn('Next ›', page + 1, { key: 'next', disabled: page >= pages, label: 'Next page' }));
  return out;
}
