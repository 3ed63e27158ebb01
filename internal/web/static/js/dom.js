// Small helpers to build the page. Everything shown comes from data (candidate names, party names), so
// nodes are only ever built with createElement and text nodes: a string is always text, never markup.

const SVG = 'http://www.w3.org/2000/svg';

// h builds an HTML element: h('a', {href: '/x', class: 'y'}, 'text', child, [more]).
export function h(tag, attrs, ...kids) {
  return build(document.createElement(tag), attrs, kids);
}

// s builds an SVG element the same way.
export function s(tag, attrs, ...kids) {
  return build(document.createElementNS(SVG, tag), attrs, kids);
}

function build(el, attrs, kids) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'style') Object.assign(el.style, v); // CSSOM, which the page's CSP allows
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid == null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

const intFmt = new Intl.NumberFormat('en');

// num formats a count with thousands separators.
export const num = (n) => intFmt.format(n || 0);

// pct formats a ratio (0..1) as a percentage.
export const pct = (x, digits = 1) => `${((x || 0) * 100).toFixed(digits)}%`;

// figure is a number with its exact value in data-value, so tests (and scrapers) need not parse text.
export function figure(value, text, attrs = {}) {
  return h('span', { ...attrs, 'data-value': value }, text);
}

// safeURL returns u when it is an http(s) or same-site URL, and '' otherwise (no javascript: links).
export function safeURL(u) {
  if (!u) return '';
  try {
    const url = new URL(u, location.href);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : '';
  } catch {
    return '';
  }
}

// initials of a name: "Avery Holt" → "AH".
export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter((p) => /\p{L}|\p{N}/u.test(p[0] || ''));
  const letters = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : parts;
  return letters.map((p) => Array.from(p)[0].toUpperCase()).join('') || '?';
}

// keepFocus runs render and, if focus was on an element inside root with a data-focus key, puts it back
// on the new element with the same key: live updates must not pull the keyboard user's focus away.
export function keepFocus(root, render) {
  const active = document.activeElement;
  const key = active && root.contains(active) ? active.dataset.focus : undefined;
  render();
  if (key) {
    const again = root.querySelector(`[data-focus="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
}
