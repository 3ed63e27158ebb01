// Charts, drawn as SVG. Every chart carries its numbers as text too (labels, legends, <title>s), so
// colour is never the only way to read it.

import { s, h, num, pct, initials } from './dom.js';

export const OTHERS = '#9aa0a6';

// textOn is the colour text takes on a background of the given colour (#rgb or #rrggbb): near-black on
// light colours (a yellow party), white on dark ones, by the background's relative luminance (WCAG).
export function textOn(colour) {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(colour || '');
  if (!m) return '#fff';
  const hex = m[1].length === 3 ? [...m[1]].map((c) => c + c).join('') : m[1];
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const L = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  // Contrast with white is 1.05 / (L + 0.05), with near-black (L + 0.05) / 0.06: take the larger.
  return 1.05 / (L + 0.05) >= (L + 0.05) / 0.06 ? '#fff' : '#111';
}

// textWidth measures text as the charts draw it (13px in the page's font, .chart text in app.css), with
// a canvas; where there is none, it assumes 7.5px a character.
let measurer;
export function textWidth(text) {
  if (measurer === undefined) {
    measurer = typeof document !== 'undefined' ? document.createElement('canvas').getContext('2d') : null;
    if (measurer) measurer.font = `13px ${getComputedStyle(document.body).fontFamily}`;
  }
  return measurer ? measurer.measureText(text).width : text.length * 7.5;
}

// fit shortens a label to fit width pixels, with an ellipsis (the full text goes in a <title>).
function fit(text, width) {
  if (textWidth(text) <= width) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) { // the longest prefix that fits with its ellipsis
    const mid = Math.ceil((lo + hi) / 2);
    if (textWidth(text.slice(0, mid) + '…') <= width) lo = mid;
    else hi = mid - 1;
  }
  return text.slice(0, lo) + '…';
}

// bars draws a horizontal bar chart: items are {label, value, colour, note}; note is shown after the value.
// width is the space it has, in CSS pixels, so its text stays readable from a phone to a wide screen:
// labels get the room their longest one needs (up to 40% of the width) and the figures after the bars the
// room theirs need, both measured, so neither is cut.
export function bars(items, { title, width = 540 }) {
  width = Math.max(280, Math.round(width));
  const valueText = (it) => `${num(it.value)}${it.note ? ` · ${it.note}` : ''}`;
  const row = 26;
  const labelW = Math.min(Math.round(width * 0.4), Math.ceil(Math.max(40, ...items.map((it) => textWidth(it.label)))) + 12);
  const valueW = Math.ceil(Math.max(0, ...items.map((it) => textWidth(valueText(it))))) + 12;
  const barW = Math.max(20, width - labelW - valueW);
  const max = Math.max(1, ...items.map((i) => i.value));
  const svg = s('svg', { viewBox: `0 0 ${width} ${Math.max(row, items.length * row)}`, role: 'img', 'aria-label': title, class: 'chart bars' },
    s('title', {}, title));
  items.forEach((it, i) => {
    const y = i * row, w = (it.value / max) * barW;
    svg.append(s('g', { class: 'bar' },
      s('title', {}, `${it.label}: ${num(it.value)}${it.note ? ` (${it.note})` : ''}`),
      s('text', { x: labelW - 8, y: y + row / 2, 'text-anchor': 'end', 'dominant-baseline': 'middle', class: 'label' }, fit(it.label, labelW - 12)),
      s('rect', { x: labelW, y: y + 5, width: Math.max(w, it.value > 0 ? 2 : 0), height: row - 10, fill: it.colour || OTHERS, rx: 3 }),
      s('text', { x: labelW + w + 6, y: y + row / 2, 'dominant-baseline': 'middle', class: 'value' }, valueText(it))));
  });
  return svg;
}

// donut draws shares of a whole with a legend beside it: items are {label, value, colour}.
export function donut(items, { title }) {
  const total = items.reduce((a, i) => a + i.value, 0);
  const R = 90, r = 55, c = 100;
  const svg = s('svg', { viewBox: '0 0 200 200', role: 'img', 'aria-label': title, class: 'chart donut' }, s('title', {}, title));
  if (total === 0) {
    svg.append(s('circle', { cx: c, cy: c, r: (R + r) / 2, fill: 'none', stroke: OTHERS, 'stroke-width': R - r, opacity: 0.3 }),
      s('text', { x: c, y: c, 'text-anchor': 'middle', 'dominant-baseline': 'middle', class: 'value' }, 'no votes yet'));
  }
  let a0 = -Math.PI / 2;
  for (const it of items) {
    if (!it.value) continue;
    const frac = it.value / total;
    const a1 = a0 + frac * 2 * Math.PI;
    const title = s('title', {}, `${it.label}: ${num(it.value)} (${pct(frac)})`);
    if (frac > 0.9999) {
      svg.append(s('circle', { cx: c, cy: c, r: (R + r) / 2, fill: 'none', stroke: it.colour, 'stroke-width': R - r }, title));
    } else {
      // Slices of one party share a colour: a gap between slices keeps them apart.
      svg.append(s('path', { d: arc(c, R, r, a0, a1), fill: it.colour, class: 'slice' }, title));
    }
    a0 = a1;
  }
  const legend = h('ul', { class: 'legend' }, items.map((it) =>
    h('li', {}, swatch(it.colour), h('span', { class: 'name' }, it.label), ' ',
      h('span', { class: 'muted' }, `${num(it.value)} · ${pct(total ? it.value / total : 0)}`))));
  return h('div', { class: 'donut-wrap' }, svg, legend);
}

function arc(c, R, r, a0, a1) {
  const large = a1 - a0 > Math.PI ? 1 : 0;
  const p = (rad, a) => `${(c + rad * Math.cos(a)).toFixed(2)} ${(c + rad * Math.sin(a)).toFixed(2)}`;
  return `M ${p(R, a0)} A ${R} ${R} 0 ${large} 1 ${p(R, a1)} L ${p(r, a1)} A ${r} ${r} 0 ${large} 0 ${p(r, a0)} Z`;
}

// swatch is a small colour square for legends (always beside a text label).
export function swatch(colour, leading = false) {
  return s('svg', { viewBox: '0 0 12 12', class: 'swatch', 'aria-hidden': 'true' },
    s('rect', { width: 12, height: 12, rx: 2, fill: colour || OTHERS }),
    leading ? s('rect', { width: 12, height: 12, rx: 2, fill: 'url(#hatch)' }) : null);
}

// patterns defines the hatching that marks "leading" (not yet won) seats; the page includes it once.
export function patterns() {
  return s('svg', { width: 0, height: 0, class: 'defs', 'aria-hidden': 'true' },
    s('defs', {}, s('pattern', { id: 'hatch', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
      s('rect', { width: 3, height: 6, fill: 'rgba(255,255,255,0.55)' }))));
}

// seats draws one stacked bar of the whole house: each party's won seats solid, its leads hatched, the
// undecided rest grey, and a line at the majority.
// width is the space it has, in CSS pixels (as bars): the chart is drawn at that size, so its text stays
// 13px on a phone rather than shrinking with an 800-unit drawing.
export function seats(parties, { total, majority, title, width = 800 }) {
  const W = Math.max(280, Math.round(width)), top = 26, H = 40;
  const svg = s('svg', { viewBox: `0 0 ${W} ${top + H + 24}`, role: 'img', 'aria-label': title, class: 'chart seats' }, s('title', {}, title));
  let x = 0;
  const scale = (n) => (total ? (n / total) * W : 0);
  const mx = scale(majority);
  for (const p of parties) {
    for (const [n, leading] of [[p.seats_won, false], [p.seats_leading, true]]) {
      if (!n) continue;
      const w = scale(n);
      const label = `${p.name}: ${n} ${leading ? 'leading' : 'won'}`;
      const at = labelAt(x, w, textWidth(`${p.short} ${n}`) + 10, mx);
      svg.append(s('g', {}, s('title', {}, label),
        s('rect', { x, y: top, width: w, height: H, fill: p.colour || OTHERS }),
        leading ? s('rect', { x, y: top, width: w, height: H, fill: 'url(#hatch)' }) : null,
        // A label only where it fits, clear of the majority line; the <title> and the table have the rest.
        at !== null ? s('text', { x: at, y: top + H / 2,
          'text-anchor': 'middle', 'dominant-baseline': 'middle', class: textOn(p.colour) === '#fff' ? 'on-colour' : 'on-colour light' }, `${p.short} ${n}`) : null));
      x += w;
    }
  }
  if (x < W) svg.append(s('rect', { x, y: top, width: W - x, height: H, fill: OTHERS, opacity: 0.25 }, s('title', {}, 'Not yet decided')));
  svg.append(s('line', { x1: mx, x2: mx, y1: top - 6, y2: top + H + 6, class: 'majority' }),
    s('text', { x: Math.min(Math.max(mx, 80), W - 80), y: top - 10, 'text-anchor': 'middle', class: 'label' }, `${num(majority)} for a majority`),
    s('text', { x: 0, y: top + H + 20, class: 'label' }, `0`),
    s('text', { x: W, y: top + H + 20, 'text-anchor': 'end', class: 'label' }, `${num(total)} seats`));
  return svg;
}

// labelAt is where (its centre) a label of width tw goes in a segment from x of width w, or null where it
// does not fit: in the middle, or, when the majority line at mx would run through it, in the larger part
// of the segment on either side of the line.
export function labelAt(x, w, tw, mx) {
  if (w < tw) return null;
  const mid = x + w / 2;
  if (Math.abs(mid - mx) >= tw / 2 + 2) return mid;
  const left = mx - x, right = x + w - mx;
  if (left >= right && left >= tw + 4) return x + left / 2;
  if (right >= tw + 4) return mx + right / 2;
  return null;
}

// niceCeil is the round number at or above x that an axis ends at (1, 2, 2.5 or 5 times a power of ten),
// so its ticks read 0 / 50,000 / 100,000 rather than 0 / 39,618 / 79,235.
export function niceCeil(x) {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * p >= x) return m * p;
  }
  return 10 * p;
}

// columns draws a column chart over time: rows are {label, value}. It is drawn at width (its container's),
// so its labels keep their size on a phone instead of shrinking with a scaled-down drawing.
export function columns(rows, { title, width = 800 }) {
  const W = Math.max(280, Math.round(width)), H = 220, left = 56, bottom = 28, top = 10;
  const max = niceCeil(Math.max(1, ...rows.map((r) => r.value)));
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, class: 'chart columns' }, s('title', {}, title));
  const plotW = W - left - 8, plotH = H - top - bottom;
  const bw = rows.length ? plotW / rows.length : plotW;
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH * (1 - f);
    svg.append(s('line', { x1: left, x2: W - 8, y1: y, y2: y, class: 'grid' }),
      s('text', { x: left - 6, y, 'text-anchor': 'end', 'dominant-baseline': 'middle', class: 'label' }, num(Math.round(max * f))));
  }
  rows.forEach((r, i) => {
    const hgt = (r.value / max) * plotH;
    svg.append(s('rect', { x: left + i * bw + bw * 0.1, y: top + plotH - hgt, width: Math.max(1, bw * 0.8), height: hgt, class: 'column' },
      s('title', {}, `${r.label}: ${num(r.value)}`)));
  });
  const ticks = rows.length <= 1 ? [0] : [0, Math.floor((rows.length - 1) / 2), rows.length - 1];
  for (const i of new Set(ticks)) {
    if (!rows[i]) continue;
    svg.append(s('text', { x: left + i * bw + bw / 2, y: H - 8, 'text-anchor': 'middle', class: 'label' }, rows[i].label));
  }
  if (!rows.length) svg.append(s('text', { x: left + plotW / 2, y: top + plotH / 2, 'text-anchor': 'middle', class: 'label' }, 'no ballots counted yet'));
  return svg;
}

// area draws a running total over time as a filled line, on an axis from 0 to max (a round number at or
// above the last value if not given); format writes the axis labels. Drawn at width, as columns is.
export function area(rows, { title, max, format = num, width = 800 }) {
  const W = Math.max(280, Math.round(width)), H = 220, left = 56, bottom = 28, top = 10;
  const top_ = max || niceCeil(Math.max(1, ...rows.map((r) => r.value)));
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, class: 'chart area' }, s('title', {}, title));
  const plotW = W - left - 8, plotH = H - top - bottom;
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH * (1 - f);
    svg.append(s('line', { x1: left, x2: W - 8, y1: y, y2: y, class: 'grid' }),
      s('text', { x: left - 6, y, 'text-anchor': 'end', 'dominant-baseline': 'middle', class: 'label' }, format(top_ * f)));
  }
  if (!rows.length) {
    svg.append(s('text', { x: left + plotW / 2, y: top + plotH / 2, 'text-anchor': 'middle', class: 'label' }, 'no ballots counted yet'));
    return svg;
  }
  const step = rows.length > 1 ? plotW / (rows.length - 1) : 0;
  const pts = rows.map((r, i) => [left + i * step, top + plotH * (1 - Math.min(r.value, top_) / top_)]);
  const line = pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  svg.append(s('polygon', { points: `${left},${top + plotH} ${line} ${pts[pts.length - 1][0].toFixed(1)},${top + plotH}`, class: 'fill' }),
    s('polyline', { points: line, class: 'line' }));
  const last = rows[rows.length - 1];
  svg.append(s('title', {}, `${last.label}: ${format(last.value)}`));
  const ticks = rows.length <= 1 ? [0] : [0, Math.floor((rows.length - 1) / 2), rows.length - 1];
  for (const i of new Set(ticks)) {
    svg.append(s('text', { x: pts[i][0], y: H - 8, 'text-anchor': i === 0 ? 'start' : i === rows.length - 1 ? 'end' : 'middle', class: 'label' }, rows[i].label));
  }
  return svg;
}

// avatar is a generated picture for a candidate without a photo: initials on the party's colour.
export function avatar(name, colour, size = 64) {
  return s('svg', { viewBox: '0 0 64 64', width: size, height: size, class: 'avatar', role: 'img', 'aria-label': `${name} (no photo)` },
    s('circle', { cx: 32, cy: 32, r: 32, fill: colour || OTHERS }),
    s('text', { x: 32, y: 33, 'text-anchor': 'middle', 'dominant-baseline': 'middle', class: 'initials' }, initials(name)));
}
