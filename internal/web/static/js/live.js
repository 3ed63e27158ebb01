// The live results: a full snapshot, kept current by the server's event stream (or by polling, or not at
// all while paused). Listeners get a 'change' event after every update and a 'state' event when the
// connection state changes.

const MODE_KEY = 'election.updates';
const INTERVAL_KEY = 'election.interval';

export const MODES = ['live', 'interval', 'paused'];

export class Live extends EventTarget {
  constructor() {
    super();
    this.results = null;
    this.state = 'connecting';
    this.mode = MODES.includes(localStorage.getItem(MODE_KEY)) ? localStorage.getItem(MODE_KEY) : 'live';
    const n = Number(localStorage.getItem(INTERVAL_KEY));
    this.interval = n >= 1 && n <= 300 ? n : 10;
    this.source = null;
    this.timer = null;
    this.retry = null;
  }

  start() {
    this.apply();
  }

  // setMode switches between live updates, polling every `interval` seconds, and paused; the choice is
  // remembered across reloads.
  setMode(mode, interval = this.interval) {
    this.mode = MODES.includes(mode) ? mode : 'live';
    this.interval = Math.min(300, Math.max(1, Math.round(interval)));
    localStorage.setItem(MODE_KEY, this.mode);
    localStorage.setItem(INTERVAL_KEY, String(this.interval));
    this.apply();
    this.dispatchEvent(new Event('state')); // the interval may have changed while the state did not
  }

  apply() {
    this.stop();
    if (this.mode === 'live') this.connect();
    else if (this.mode === 'interval') {
      this.setState('interval');
      this.refresh();
      this.timer = setInterval(() => this.refresh(), this.interval * 1000);
    } else {
      this.setState('paused');
      if (!this.results) this.refresh(); // a paused page still shows the results once
    }
  }

  stop() {
    if (this.source) this.source.close();
    this.source = null;
    clearInterval(this.timer);
    clearTimeout(this.retry);
    this.timer = this.retry = null;
  }

  connect() {
    this.setState(this.results ? 'reconnecting' : 'connecting');
    const es = new EventSource('/api/v1/events');
    this.source = es;
    es.addEventListener('open', () => this.setState('live'));
    es.addEventListener('snapshot', (e) => this.snapshot(JSON.parse(e.data)));
    es.addEventListener('delta', (e) => this.delta(JSON.parse(e.data)));
    es.addEventListener('error', () => {
      if (this.source !== es) return;
      this.setState('reconnecting');
      // The browser retries by itself after a dropped stream, but gives up after an HTTP error (a proxy's
      // 502 while the server restarts): then start over, which fetches a fresh snapshot.
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        this.retry = setTimeout(() => this.mode === 'live' && this.connect(), 1000);
      }
    });
  }

  // refresh fetches the whole results once.
  async refresh() {
    try {
      const resp = await fetch('/api/v1/results', { cache: 'no-store' });
      if (!resp.ok) throw new Error(`${resp.status} ${resp.statusText}`);
      this.snapshot(await resp.json());
      if (this.mode === 'interval') this.setState('interval');
    } catch {
      if (this.mode !== 'live') this.setState('offline');
    }
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.dispatchEvent(new Event('state'));
  }

  snapshot(r) {
    this.results = r;
    this.index = indexResults(r);
    this.changed();
  }

  delta(d) {
    if (!this.results) return; // a delta needs a base; the server sends a snapshot first
    applyDelta(this.results, this.index, d);
    this.changed();
  }

  changed() {
    this.dispatchEvent(new Event('change'));
  }

  candidate(id) {
    return this.index && this.index.candidates.get(id);
  }

  party(id) {
    return this.index && this.index.parties.get(id);
  }
}

// indexResults maps each kind of row of a snapshot by its key, for merging deltas in place.
export function indexResults(r) {
  return {
    candidates: indexBy(r.candidates, 'candidate_id'),
    parties: indexBy(r.parties, 'party_id'),
    states: indexBy(r.states, 'state'),
    constituencies: indexBy(r.constituencies, 'constituency_id'),
  };
}

// applyDelta merges a delta into results r (indexed by indexResults). A delta carries the headline
// figures and, for each row that changed, its key and every field that can change (results.Delta on the
// server says which; none is left out when empty), so a row is merged by copying what it carries.
export function applyDelta(r, index, d) {
  for (const [k, v] of Object.entries(d)) {
    if (!Array.isArray(v)) r[k] = v;
  }
  merge(d.candidates, index.candidates, 'candidate_id');
  merge(d.parties, index.parties, 'party_id');
  merge(d.states, index.states, 'state');
  merge(d.constituencies, index.constituencies, 'constituency_id');
  if (d.timeline) {
    const minutes = new Map((r.timeline || []).map((m) => [m.minute, m]));
    for (const m of d.timeline) minutes.set(m.minute, m);
    r.timeline = [...minutes.values()].sort((a, b) => (a.minute < b.minute ? -1 : 1));
  }
}

function indexBy(rows, key) {
  const m = new Map();
  for (const row of rows || []) m.set(row[key], row);
  return m;
}

function merge(rows, index, key) {
  for (const row of rows || []) {
    const old = index.get(row[key]);
    if (old) Object.assign(old, row);
  }
}

// callText says how the election stands (results.Call on the server): only what is certain.
export function callText(call, partyName, seatsWon) {
  if (!call) return '';
  const declared = `${call.declared} of ${call.seats} races declared` + (call.tied ? `, ${call.tied} tied` : '');
  switch (call.status) {
    case 'majority':
      return call.seats === 1 ? `${partyName} wins.` : `${partyName} wins a majority: ${seatsWon} of ${call.seats} seats.`;
    case 'hung':
      return `No party can reach a majority: a hung parliament (${declared}).`;
    case 'embargoed':
      return 'Results are embargoed until the polls close.';
    default:
      return `Too early to call: ${declared}.`;
  }
}
