// The results page: a router over the views, the live-update controls, and the connection state.

import { Live } from './live.js';
import { route } from './views.js';
import { h } from './dom.js';
import { patterns } from './charts.js';

const live = new Live();
const main = document.getElementById('view');
const conn = document.getElementById('conn');
const mode = document.getElementById('mode');
const every = document.getElementById('every');
const slider = document.getElementById('interval');
const seconds = document.getElementById('interval-out');
let view = null;
let frame = 0;

document.body.append(patterns());

// render builds the view the URL names; focus moves the keyboard focus to it (after a navigation).
function render(focus) {
  if (!live.results) return;
  view = route(live, location.pathname);
  if (view) {
    main.replaceChildren(view.el);
    view.update();
    // For the page-load benchmark: when the first results were on the page.
    if (!performance.getEntriesByName('results-shown').length) performance.mark('results-shown');
  } else {
    main.replaceChildren(h('section', { class: 'card' }, h('h2', {}, 'Page not found'),
      h('p', {}, `There is no view at ${location.pathname}. `, h('a', { href: '/' }, 'Go to the overview'), '.')));
  }
  for (const a of document.querySelectorAll('nav.views a')) {
    const p = a.getAttribute('href');
    const here = p === '/' ? location.pathname === '/' : location.pathname === p || location.pathname.startsWith(`${p}/`);
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  title();
  if (focus) main.focus({ preventScroll: true });
}

const embargo = document.getElementById('embargo');

function title() {
  embargo.hidden = !(live.results && live.results.embargoed);
  const name = live.results ? live.results.election : 'Election results';
  document.getElementById('election-name').textContent = name;
  document.title = view ? `${view.title} · ${name}` : name;
}

live.addEventListener('change', () => {
  if (!view) return render(false);
  // Several events can arrive within a frame: draw once.
  if (!frame) frame = requestAnimationFrame(() => { frame = 0; view.update(); title(); });
});

const STATES = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', paused: 'Paused', offline: 'Offline' };
function showState() {
  conn.dataset.state = live.state;
  conn.textContent = live.state === 'interval' ? `Every ${live.interval} s` : STATES[live.state] || live.state;
}
live.addEventListener('state', showState);

function showControls() {
  mode.value = live.mode;
  slider.value = String(live.interval);
  seconds.textContent = String(live.interval);
  every.hidden = live.mode !== 'interval';
}
mode.addEventListener('change', () => { live.setMode(mode.value); showControls(); });
slider.addEventListener('input', () => { seconds.textContent = slider.value; });
slider.addEventListener('change', () => { live.setMode('interval', Number(slider.value)); showControls(); });
document.getElementById('refresh').addEventListener('click', () => live.refresh());

// Links to our own views change the URL and the view without reloading the page.
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  // A blob: URL (a download) has our origin too: only our own pages' http(s) links are views.
  if (url.origin !== location.origin || !url.protocol.startsWith('http') ||
    ['/api/', '/static/', '/board/', '/photos/'].some((p) => url.pathname.startsWith(p))) return;
  e.preventDefault();
  if (url.href !== location.href) history.pushState(null, '', url.href);
  render(true);
  scrollTo(0, 0);
});
addEventListener('popstate', () => render(false));

// Charts are drawn for the width they have: draw again when it changes.
addEventListener('resize', () => {
  if (!frame && view) frame = requestAnimationFrame(() => { frame = 0; view.update(); });
});

// Leaving the page closes the event stream at once: a browser keeps only six connections per server,
// and a page kept for the back button must not hold one. Coming back opens it again.
addEventListener('pagehide', () => live.stop());
addEventListener('pageshow', (e) => { if (e.persisted) live.apply(); });

showControls();
showState();
live.start();
