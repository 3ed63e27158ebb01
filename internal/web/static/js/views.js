// The page's views. Each view is built once when its URL is opened (build) and then brought up to date
// after every change of the results (update), so live updates never reset what the reader has typed or
// where the keyboard focus is.

import { h, num, pct, figure, safeURL } from './dom.js';
import { bars, donut, seats, columns, area, avatar, swatch, textOn, OTHERS } from './charts.js';
import { Table, query, setQuery } from './table.js';
import { layout } from './tiles.js';
import { verifyReceipt } from './verify.js';
import { callText } from './live.js';

const TOP = 10; // candidates shown by name in the overview's charts; the rest are "Others"

// --- shared bits ---------------------------------------------------------------------------------------

function stat(label, test, value, text) {
  return h('div', { class: 'stat' }, h('span', { class: 'label' }, label), figure(value, text, { class: 'value', 'data-test': test }));
}

function partyTag(live, id) {
  const p = live.party(id);
  if (!p) return h('span', { class: 'muted' }, '—');
  return h('span', { class: 'party' }, swatch(p.colour), h('abbr', { title: p.name }, p.short || p.name));
}

function candidateName(live, id) {
  const c = live.candidate(id);
  return c ? c.candidate_name : '';
}

// picture is the candidate's photo, or an avatar with initials when there is none (or it fails to load).
export function picture(live, c, size = 64) {
  const colour = (live.party(c.party) || {}).colour;
  const url = safeURL(c.photo_url);
  if (!url) return avatar(c.candidate_name, colour, size);
  const img = h('img', { src: url, alt: `Photo of ${c.candidate_name}`, width: size, height: size, class: 'photo', referrerpolicy: 'no-referrer' });
  img.addEventListener('error', () => img.replaceWith(avatar(c.candidate_name, colour, size)), { once: true });
  return img;
}

// How a race's status reads on the page (the API's value is in data-status): a declared race is won.
const STATUS_LABEL = { declared: 'won', 'not started': 'not started', counting: 'counting', tied: 'tied', embargoed: 'embargoed' };

function statusTag(status) {
  return h('span', { class: `status status-${status.replace(/\s+/g, '-')}`, 'data-status': status }, STATUS_LABEL[status] || status);
}

// raceTags is a race's status, a flag when it was won by lot, and one when its margin is within the
// election's recount margin.
function raceTags(race) {
  const tags = [statusTag(race.status)];
  if (race.by_lot) tags.push(h('span', { class: 'status status-lot', 'data-test': 'by-lot', title: 'Level at the top: the winner was drawn by lot, which anyone can redraw (election verify)' }, 'by lot'));
  if (race.recount) tags.push(h('span', { class: 'status status-recount', title: 'The margin is within the recount margin the election sets' }, 'recount margin'));
  return tags.length === 1 ? tags[0] : h('span', { class: 'tags' }, tags.flatMap((t, i) => (i ? [' ', t] : [t])));
}

function consLink(race) {
  return h('a', { href: `/constituencies/${encodeURIComponent(race.constituency_id)}` }, race.name || race.constituency_id);
}

function section(title, ...kids) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...kids);
}

// updatedText is when the count last changed (the server keeps the time while nothing moves), with the
// reader's time zone, and says so once the polls are closed.
function updatedText(r) {
  const t = new Date(r.updated_at);
  if (isNaN(t)) return '—';
  const at = t.toLocaleTimeString([], { timeZoneName: 'short' });
  return r.final ? `${at}, final` : r.polls_closed ? `${at}, polls closed, counting the last ballots` : at;
}

// --- 1. Overview ---------------------------------------------------------------------------------------

function overview(live) {
  const stats = h('div', { class: 'stats' });
  const multi = live.results.constituencies.length > 1;
  const table = new Table({
    name: 'candidates', rowKey: (c) => c.candidate_id, defaults: { sort: 'votes', dir: 'desc' },
    searchText: (c) => `${c.candidate_name} ${c.party_name} ${c.constituency}`,
    columns: [
      { id: 'name', label: 'Candidate', value: (c) => c.candidate_name },
      { id: 'party', minor: true, label: 'Party', value: (c) => c.party_name, cell: (c) => partyTag(live, c.party) },
      multi ? { id: 'constituency', minor: true, label: 'Constituency', value: (c) => consName(live, c.constituency),
        cell: (c) => h('a', { href: `/constituencies/${encodeURIComponent(c.constituency)}` }, consName(live, c.constituency)) } : null,
      { id: 'votes', label: 'Votes', num: true, value: (c) => c.votes, cell: (c) => (live.results.embargoed ? '—' : num(c.votes)) },
      { id: 'share', label: multi ? '% in race' : '%', num: true, value: (c) => c.share, cell: (c) => (live.results.embargoed ? '—' : pct(c.share)) },
    ].filter(Boolean),
  });
  // A single race is about its candidates; an election of many seats is about seats and the majority:
  // one candidate's votes in one of 543 races says nothing about who governs.
  const front = multi ? seatsFront(live) : raceFront(live);
  const el = h('div', { class: 'view overview' }, stats, ...front.sections, section(multi ? 'Candidates' : 'Results', table.el));
  return {
    title: 'Overview', el,
    update() {
      const r = live.results;
      const declared = r.call ? r.call.declared : r.constituencies.filter((c) => c.status === 'declared').length;
      stats.replaceChildren(
        stat('Registered voters', 'registered', r.registered_voters, num(r.registered_voters)),
        stat('Candidates', 'candidates', r.candidates.length, num(r.candidates.length)),
        stat('Ballots counted', 'ballots', r.ballots_counted, num(r.ballots_counted)),
        stat('Turnout', 'turnout', r.turnout, pct(r.turnout, 2)),
        stat('Races declared', 'declared', declared, `${num(declared)} of ${num(r.constituencies.length)}`),
        stat('Last update', 'updated', r.updated_at, updatedText(r)));
      front.update(r);
      table.update(r.candidates);
    },
  };
}

// raceFront is the front page of a one-race election: the leading candidate (or those level at the top,
// or the winner drawn by lot), and the votes.
function raceFront(live) {
  const leader = h('div', { class: 'leader' });
  const candBars = h('div', {}), candDonut = h('div', {}), partyBars = h('div', {});
  return {
    sections: [
      h('div', { class: 'grid two' }, section('Leading candidate', leader), section('Votes per party', partyBars)),
      h('div', { class: 'grid two' }, section('Votes per candidate', candBars), section('Share of the vote', candDonut)),
    ],
    update(r) {
      if (r.embargoed) {
        for (const el of [leader, candBars, candDonut, partyBars]) el.replaceChildren(embargoNote());
        return;
      }
      const lead = live.candidate(r.leader);
      const race = r.constituencies[0] || {};
      const level = race.tied && race.tied.length ? tiedNames(live, race) : '';
      leader.replaceChildren(...(lead ? [
        picture(live, lead, 96),
        h('div', {},
          h('p', { class: 'big', 'data-test': 'leader-name' }, lead.candidate_name),
          race.by_lot ? h('p', { 'data-test': 'leader-by-lot' }, raceTags(race), ` Level with ${race.tied.filter((id) => id !== r.leader).map((id) => candidateName(live, id)).join(', ')}: won by lot.`) : null,
          h('p', {}, partyTag(live, lead.party), ' ', lead.party_name),
          h('p', {}, figure(lead.votes, `${num(lead.votes)} votes`, { 'data-test': 'leader-votes' }), ' · ',
            figure(lead.share, pct(lead.share), { 'data-test': 'leader-share' }), ' of the votes')),
      ] : [h('p', { class: level ? null : 'muted', 'data-test': level ? 'leader-level' : null }, level ? `Level at the top: ${level}.` : 'No ballots counted yet.')]));
      const ranked = [...r.candidates].sort((a, b) => b.votes - a.votes);
      const top = ranked.slice(0, TOP).map((c) => ({ label: c.candidate_name, value: c.votes, colour: (live.party(c.party) || {}).colour }));
      const rest = ranked.slice(TOP).reduce((a, c) => a + c.votes, 0);
      if (ranked.length > TOP) top.push({ label: `Others (${num(ranked.length - TOP)})`, value: rest, colour: OTHERS });
      candBars.replaceChildren(bars(top, { title: 'Votes per candidate', width: candBars.clientWidth }));
      candDonut.replaceChildren(donut(top, { title: 'Share of the vote per candidate' }));
      partyBars.replaceChildren(partyVotes(r, partyBars.clientWidth));
    },
  };
}

// seatsFront is the front page of an election of many seats: the call, seats won and leading per party
// against the majority, the vote per party, and the closest races.
function seatsFront(live) {
  const call = h('p', { class: 'headline call', 'data-test': 'call', 'aria-live': 'polite' });
  const chart = h('div', {});
  const partyBars = h('div', {});
  const closest = h('ol', { class: 'closest' });
  return {
    sections: [
      section('Seats', call, chart,
        h('p', { class: 'muted legend-note' }, swatch('#777'), ' solid: won · ', swatch('#777', true), ' hatched: leading (still counting)')),
      h('div', { class: 'grid two' }, section('Votes per party', partyBars), section('Closest races', closest)),
    ],
    update(r) {
      const party = r.call && live.party(r.call.party);
      const won = party ? (r.parties.find((p) => p.party_id === party.party_id) || {}).seats_won : 0;
      call.textContent = callText(r.call, party ? party.name : '', won);
      if (r.embargoed) {
        for (const el of [chart, partyBars, closest]) el.replaceChildren(embargoNote());
        return;
      }
      const ranked = [...r.parties].sort((a, b) => b.seats_won + b.seats_leading - (a.seats_won + a.seats_leading) || b.votes - a.votes);
      chart.replaceChildren(seats(ranked, { total: r.seats, majority: r.majority, title: `Seats won and leading against the majority of ${r.majority}`, width: chart.clientWidth }));
      partyBars.replaceChildren(partyVotes(r, partyBars.clientWidth));
      const races = r.constituencies.filter((c) => c.ballots > 0 && (c.leader || (c.tied && c.tied.length)))
        .sort((a, b) => a.margin / Math.max(a.ballots, 1) - b.margin / Math.max(b.ballots, 1) || a.margin - b.margin).slice(0, 8);
      closest.replaceChildren(...(races.length ? races.map((c) => h('li', {}, consLink(c), ' ',
        h('span', { class: 'muted' }, c.by_lot ? `${candidateName(live, c.leader)} by lot, level with ${c.tied.filter((id) => id !== c.leader).map((id) => candidateName(live, id)).join(', ')}` :
          c.status === 'tied' || !c.leader ? `level: ${tiedNames(live, c)}` :
          `${candidateName(live, c.leader)} by ${num(c.margin)} (${pct(c.margin / Math.max(c.ballots, 1))})`), ' ', raceTags(c)))
        : [h('li', { class: 'muted' }, 'No race has a leader yet.')]));
    },
  };
}

function partyVotes(r, width) {
  return bars([...r.parties].sort((a, b) => b.votes - a.votes)
    .map((p) => ({ label: p.name, value: p.votes, colour: p.colour, note: pct(p.share) })), { title: 'Votes per party', width });
}

function embargoNote() {
  return h('p', { class: 'muted', 'data-test': 'embargoed' }, 'Embargoed until the polls close.');
}

// tiedNames names every candidate level at the top of a race.
function tiedNames(live, race) {
  return (race.tied || []).map((id) => candidateName(live, id)).join(', ') || '—';
}

function consName(live, id) {
  const c = live.index.constituencies.get(id);
  return c ? c.name : id;
}

// --- 2. Parties and seats ------------------------------------------------------------------------------

function parties(live) {
  const headline = h('p', { class: 'headline' });
  const chart = h('div', {});
  const table = new Table({
    name: 'parties', rowKey: (p) => p.party_id, defaults: { sort: 'total', dir: 'desc' },
    columns: [
      { id: 'party', label: 'Party', value: (p) => p.name, cell: (p) => h('span', { class: 'party' }, swatch(p.colour), p.name, ' ', h('span', { class: 'muted' }, `(${p.short})`)) },
      { id: 'won', label: 'Won', num: true, value: (p) => p.seats_won },
      { id: 'leading', minor: true, label: 'Leading', num: true, value: (p) => p.seats_leading },
      { id: 'total', label: 'Total', num: true, value: (p) => p.seats_won + p.seats_leading },
      { id: 'votes', minor: true, label: 'Votes', num: true, value: (p) => p.votes, cell: (p) => num(p.votes) },
      { id: 'share', label: 'Vote share', num: true, value: (p) => p.share, cell: (p) => pct(p.share) },
    ],
  });
  const el = h('div', { class: 'view parties' },
    section('Seats', headline, chart,
      h('p', { class: 'muted legend-note' }, swatch('#777'), ' solid: won · ', swatch('#777', true), ' hatched: leading (still counting)')),
    section('Parties', table.el));
  return {
    title: 'Parties and seats', el,
    update() {
      const r = live.results;
      const ranked = [...r.parties].sort((a, b) => b.seats_won + b.seats_leading - (a.seats_won + a.seats_leading) || b.votes - a.votes);
      const first = ranked[0];
      const firstTotal = first ? first.seats_won + first.seats_leading : 0;
      headline.replaceChildren(
        figure(r.majority, `${num(r.majority)} of ${num(r.seats)} seats`, { 'data-test': 'majority' }), ' make a majority. ',
        first && firstTotal ? `${first.name} has ${num(first.seats_won)} won and ${num(first.seats_leading)} leading` +
          (first.seats_won >= r.majority ? ': a majority.' : firstTotal >= r.majority ? ': on course for a majority.' : '.') : 'No seat has a leader yet.');
      chart.replaceChildren(seats(ranked, { total: r.seats, majority: r.majority, title: `Seats won and leading against the majority of ${r.majority}`, width: chart.clientWidth }));
      table.update(r.parties);
    },
  };
}

// --- 3. Map --------------------------------------------------------------------------------------------

function map(live) {
  const r0 = live.results;
  const pos = layout(r0.states.map((s) => s.state));
  const info = h('div', { class: 'tile-info', 'aria-live': 'polite' },
    'Each tile is a state: the party winning or leading most of its seats, its seats and its turnout. Hover or tab to a tile for more; open it for its constituencies.');
  const seatsIn = new Map();
  for (const c of r0.constituencies) if (c.state) seatsIn.set(c.state, (seatsIn.get(c.state) || 0) + 1);
  const cols = Math.max(1, ...[...pos.values()].map(([c]) => c + 1));
  const grid = h('div', { class: 'tiles', role: 'list', style: { gridTemplateColumns: `repeat(${cols}, minmax(0, 1fr))`, maxWidth: `${cols * 7}rem` } });
  const legend = h('ul', { class: 'legend' });
  const tiles = new Map();
  let shown = null;
  const describe = (st) => {
    const p = live.party(st.leading_party);
    const n = seatsIn.get(st.state) || 0;
    return `${st.name}: ${n ? `${num(n)} ${n === 1 ? 'seat' : 'seats'}, ` : ''}turnout ${pct(st.turnout)} (${num(st.ballots)} of ${num(st.registered)} registered)` +
      (!n ? '' : p ? `; most seats won or leading: ${p.name}` : '; no seat leader yet');
  };
  for (const st of r0.states) {
    const [c, row] = pos.get(st.state);
    // A state with no constituency of its own (the seed's regions) has turnout but no list to open.
    const a = h(seatsIn.has(st.state) ? 'a' : 'div', { href: seatsIn.has(st.state) ? `/constituencies?state=${encodeURIComponent(st.state)}` : null,
      class: 'tile', role: 'listitem', tabindex: seatsIn.has(st.state) ? null : '0', 'data-state': st.state,
      'data-focus': `tile-${st.state}`, style: { gridColumn: String(c + 1), gridRow: String(row + 1) } });
    const show = () => { shown = st.state; info.textContent = describe(live.index.states.get(st.state)); };
    a.addEventListener('mouseenter', show);
    a.addEventListener('focus', show);
    tiles.set(st.state, a);
    grid.append(a);
  }
  const el = h('div', { class: 'view map' }, section('States and union territories', h('div', { class: 'map-wrap' }, grid, h('div', {}, info, legend))));
  return {
    title: 'Map', el,
    update() {
      for (const st of live.results.states) {
        const a = tiles.get(st.state);
        const p = live.party(st.leading_party);
        const n = seatsIn.get(st.state) || 0;
        a.style.background = p ? p.colour : '';
        a.classList.toggle('no-leader', !p);
        a.classList.toggle('light', !!p && textOn(p.colour) !== '#fff');
        a.setAttribute('aria-label', describe(st));
        a.replaceChildren(h('span', { class: st.state.length > 3 ? 'code long' : 'code' }, st.state), h('span', { class: 'lead' }, p ? p.short : '–'),
          n ? h('span', { class: 'seats' }, `${num(n)} ${n === 1 ? 'seat' : 'seats'}`) : null,
          figure(st.turnout, pct(st.turnout, 0), { class: 'turnout' }));
      }
      if (shown) info.textContent = describe(live.index.states.get(shown));
      const leading = new Set(live.results.states.map((s) => s.leading_party).filter(Boolean));
      legend.replaceChildren(...live.results.parties.filter((p) => leading.has(p.party_id))
        .map((p) => h('li', {}, swatch(p.colour), `${p.short}: ${p.name}`)),
        h('li', {}, swatch('#9aa0a6', true), '–: no seat leader yet'));
    },
  };
}

// --- 4. Constituencies ---------------------------------------------------------------------------------

function constituencies(live) {
  const r0 = live.results;
  const stateName = (code) => (live.index.states.get(code) || {}).name || code || '—';
  const states = [...new Set(r0.constituencies.map((c) => c.state).filter(Boolean))];
  const filter = states.length
    ? h('select', { 'aria-label': 'State', 'data-focus': 'state', class: 'state-filter',
        onchange: (e) => { setQuery({ state: e.target.value, page: '' }, true); draw(); } },
        h('option', { value: '' }, 'All states'), states.map((s) => h('option', { value: s }, stateName(s))))
    : null;
  const heading = h('h2', {}, 'Constituencies');
  const table = new Table({
    name: 'constituencies', rowKey: (c) => c.constituency_id, defaults: { sort: 'name', dir: 'asc' }, controls: filter,
    searchText: (c) => `${c.name} ${stateName(c.state)} ${candidateName(live, c.leader)} ${candidateName(live, c.runner_up)}`,
    columns: [
      { id: 'name', label: 'Constituency', value: (c) => c.name, cell: consLink },
      states.length ? { id: 'state', minor: true, label: 'State', value: (c) => stateName(c.state) } : null,
      { id: 'leader', label: 'Leader', value: (c) => candidateName(live, c.leader),
        cell: (c) => c.leader ? [candidateName(live, c.leader), ' ', partyTag(live, c.leader_party)]
          : h('span', { class: 'muted' }, c.tied && c.tied.length ? `level: ${tiedNames(live, c)}` : '—') },
      { id: 'runner_up', minor: true, label: 'Runner-up', value: (c) => candidateName(live, c.runner_up),
        cell: (c) => c.runner_up ? [candidateName(live, c.runner_up), ' ', partyTag(live, (live.candidate(c.runner_up) || {}).party)] : h('span', { class: 'muted' }, '—') },
      { id: 'margin', label: 'Margin', num: true, value: (c) => c.margin, cell: (c) => num(c.margin) },
      { id: 'ballots', minor: true, label: 'Ballots', num: true, value: (c) => c.ballots, cell: (c) => num(c.ballots) },
      { id: 'turnout', minor: true, label: 'Turnout', num: true, value: (c) => c.turnout, cell: (c) => pct(c.turnout) },
      { id: 'status', label: 'Status', value: (c) => c.status, cell: (c) => raceTags(c) },
    ].filter(Boolean),
  });
  const el = h('div', { class: 'view constituencies' }, h('section', { class: 'card' }, heading, table.el));
  function draw() {
    const q = query();
    if (filter) filter.value = q.state;
    heading.textContent = q.state ? `Constituencies in ${stateName(q.state)}` : 'Constituencies';
    table.update(live.results.constituencies.filter((c) => !q.state || c.state === q.state));
  }
  return { title: 'Constituencies', el, update: draw };
}

function constituency(live, id) {
  const head = h('div', { class: 'stats' });
  const title = h('h2', {});
  const table = new Table({
    name: 'candidates', rowKey: (c) => c.candidate_id, defaults: { sort: 'votes', dir: 'desc' },
    columns: [
      { id: 'name', label: 'Candidate', value: (c) => c.candidate_name,
        cell: (c) => h('span', { class: 'who' }, picture(live, c, 32), h('span', {}, c.candidate_name, about.get(c.candidate_id) ? h('small', { class: 'muted bio' }, about.get(c.candidate_id)) : null)) },
      { id: 'party', minor: true, label: 'Party', value: (c) => c.party_name, cell: (c) => [partyTag(live, c.party), ' ', c.party_name] },
      { id: 'votes', label: 'Votes', num: true, value: (c) => c.votes, cell: (c) => num(c.votes) },
      { id: 'share', label: 'Share', num: true, value: (c) => c.share,
        cell: (c) => h('span', { class: 'share' }, h('meter', { min: 0, max: 1, value: c.share, 'aria-hidden': 'true' }), ' ', pct(c.share)) },
    ],
  });
  const about = new Map();
  // Biographies are not part of the live results: fetch them once.
  fetch('/api/v1/election').then((r) => r.json()).then((e) => {
    for (const c of e.candidates || []) if (c.constituency === id && c.biography) about.set(c.id, c.biography);
    view.update();
  }).catch(() => {});
  const el = h('div', { class: 'view constituency' },
    h('p', {}, h('a', { href: '/constituencies' }, '‹ All constituencies')),
    h('section', { class: 'card' }, title, head, table.el));
  const view = {
    title: 'Constituency', el,
    update() {
      const race = live.index.constituencies.get(id);
      if (!race) {
        title.textContent = 'No such constituency';
        head.replaceChildren(h('p', {}, `There is no constituency “${id}” in this election.`));
        table.el.hidden = true;
        return;
      }
      const state = live.index.states.get(race.state);
      view.title = race.name;
      // replaceChildren would write a null as the text "null" (the seed race read "Nationwidenull").
      title.replaceChildren(...[race.name, state && h('span', { class: 'muted' }, ` · ${state.name}`), ' ', raceTags(race)].filter(Boolean));
      head.replaceChildren(
        stat('Ballots', 'race-ballots', race.ballots, num(race.ballots)),
        stat('Registered', 'race-registered', race.registered, num(race.registered)),
        stat('Turnout', 'race-turnout', race.turnout, pct(race.turnout)),
        race.by_lot ? h('div', { class: 'stat' }, h('span', { class: 'label' }, 'Won by lot'),
          figure(race.leader, candidateName(live, race.leader), { class: 'value', 'data-test': 'race-leader' }),
          h('small', { class: 'muted' }, `level with ${race.tied.filter((id) => id !== race.leader).map((id) => candidateName(live, id)).join(', ')}`))
          : race.tied && race.tied.length ? stat('Level at the top', 'race-tied', race.tied.length, tiedNames(live, race))
          : stat(race.status === 'declared' ? 'Won by' : 'Leader', 'race-leader', race.leader, candidateName(live, race.leader) || '—'),
        stat('Margin', 'race-margin', race.margin, race.ballots ? `${num(race.margin)} (${pct(race.margin / race.ballots)})` : num(race.margin)));
      table.update(live.results.candidates.filter((c) => c.constituency === id));
    },
  };
  return view;
}

// --- 5. Turnout by location ----------------------------------------------------------------------------

function turnout(live) {
  const table = new Table({
    name: 'states', rowKey: (s) => s.state, defaults: { sort: 'ballots', dir: 'desc' },
    searchText: (s) => `${s.name} ${s.state}`,
    columns: [
      { id: 'state', label: 'State', value: (s) => s.name,
        cell: (s) => h('a', { href: `/constituencies?state=${encodeURIComponent(s.state)}` }, s.name) },
      { id: 'ballots', minor: true, label: 'Ballots', num: true, value: (s) => s.ballots, cell: (s) => num(s.ballots) },
      { id: 'registered', minor: true, label: 'Registered', num: true, value: (s) => s.registered, cell: (s) => num(s.registered) },
      { id: 'turnout', label: 'Turnout', num: true, value: (s) => s.turnout,
        cell: (s) => h('span', { class: 'share' }, h('meter', { min: 0, max: 1, value: s.turnout, 'aria-hidden': 'true' }), ' ', pct(s.turnout, 2)) },
    ],
  });
  const total = h('p', { class: 'headline' });
  const el = h('div', { class: 'view turnout' }, section('Turnout by location', total, table.el));
  return {
    title: 'Turnout', el,
    update() {
      const r = live.results;
      total.replaceChildren(figure(r.ballots_counted, num(r.ballots_counted), { 'data-test': 'ballots' }), ' ballots counted of ',
        figure(r.registered_voters, num(r.registered_voters), { 'data-test': 'registered' }), ' registered voters: ',
        figure(r.turnout, pct(r.turnout, 2), { 'data-test': 'turnout' }), ' turnout.');
      table.update(r.states);
    },
  };
}

// --- 6. Timeline ---------------------------------------------------------------------------------------

function timeline(live) {
  const chart = h('div', {});
  const total = h('div', {});
  const summary = h('div', { class: 'stats' });
  const table = new Table({
    name: 'minutes', rowKey: (m) => m.minute, defaults: { sort: 'minute', dir: 'desc' },
    columns: [
      { id: 'minute', label: 'Minute (UTC)', value: (m) => m.minute },
      { id: 'ballots', label: 'Ballots', num: true, value: (m) => m.ballots, cell: (m) => num(m.ballots) },
      { id: 'so_far', minor: true, label: 'So far', num: true, value: (m) => m.so_far, cell: (m) => num(m.so_far) },
      { id: 'turnout', label: 'Turnout so far', num: true, value: (m) => m.turnout, cell: (m) => pct(m.turnout, 2) },
    ],
  });
  const el = h('div', { class: 'view timeline' }, section('Ballots per minute', summary, chart), section('Turnout over time', total),
    section('Minutes', table.el));
  return {
    title: 'Timeline', el,
    update() {
      const r = live.results;
      const rows = runningTotals(r.timeline || [], r.registered_voters);
      const peak = rows.reduce((a, m) => (m.ballots > a.ballots ? m : a), { minute: '—', ballots: 0 });
      const counted = rows.length ? rows[rows.length - 1].so_far : 0;
      summary.replaceChildren(
        stat('Minutes with ballots', 'minutes', rows.length, num(rows.length)),
        stat('Ballots', 'timeline-ballots', counted, num(counted)),
        stat('Busiest minute', 'peak', peak.ballots, `${num(peak.ballots)} at ${peak.minute.slice(11) || '—'}`));
      chart.replaceChildren(columns(rows.map((m) => ({ label: m.minute.slice(11), value: m.ballots })), { title: 'Ballots per minute (UTC)', width: chart.clientWidth }));
      // Turnout on an axis up to the next tenth above it: the climb reads against a whole electorate.
      const last = rows.length ? rows[rows.length - 1].turnout : 0;
      // Each point is the turnout at the end of its minute, from nothing before the first.
      const points = rows.length ? [{ label: 'start', value: 0 }, ...rows.map((m) => ({ label: `end of ${m.minute.slice(11)}`, value: m.turnout }))] : [];
      total.replaceChildren(area(points,
        { title: 'Turnout so far (UTC)', max: Math.min(1, Math.ceil(last * 10 + 1e-9) / 10) || 0.1, format: (v) => pct(v, 0), width: total.clientWidth }));
      table.update(rows);
    },
  };
}

// runningTotals adds to each minute the ballots counted up to its end and the turnout that makes.
export function runningTotals(timeline, registered) {
  let sum = 0;
  return [...timeline].sort((a, b) => (a.minute < b.minute ? -1 : 1))
    .map((m) => { sum += m.ballots; return { ...m, so_far: sum, turnout: registered ? sum / registered : 0 }; });
}

// --- 8. Check my ballot --------------------------------------------------------------------------------

function check(live) {
  const input = h('input', { type: 'text', id: 'code', name: 'code', value: new URLSearchParams(location.search).get('code') || '',
    placeholder: 'the tracking code you were given when you voted', autocomplete: 'off', spellcheck: 'false', class: 'code', 'data-focus': 'code' });
  const result = h('div', { class: 'check-result', role: 'status', 'aria-live': 'polite' });
  const form = h('form', { class: 'check-form', onsubmit: (e) => { e.preventDefault(); setQuery({ code: input.value.trim() }, true); run(); } },
    h('label', { for: 'code' }, 'Tracking code '), input, ' ', h('button', { type: 'submit' }, 'Check'));
  const say = (cls, test, ...kids) => result.replaceChildren(h('div', { class: `notice ${cls}`, 'data-test': test }, ...kids));

  async function run() {
    const code = input.value.trim();
    if (!code) return say('', 'check-empty', 'Enter the tracking code you were given when you voted.');
    say('', 'check-busy', 'Checking…');
    try {
      const [elec, resp] = await Promise.all([fetch('/api/v1/election', { cache: 'no-store' }),
        fetch(`/api/v1/receipts/${encodeURIComponent(code)}`, { cache: 'no-store' })]);
      const board = elec.ok ? (await elec.json()).board : null;
      if (!board || !board.verifier_key) return say('bad', 'check-failed', 'This election publishes no bulletin board.');
      const receipt = await resp.json();
      if (resp.status === 404) return say('', 'check-missing', 'No ballot with this tracking code is on the board yet. A ballot appears within seconds of being counted; check the code, and try again in a moment.');
      if (!resp.ok) return say('bad', 'check-failed', receipt.error || `The board answered ${resp.status}.`);
      if (!receipt.on_board) return say('', 'check-pending', `Counted; ${receipt.status}.`);
      const { entry, checkpoint } = await verifyReceipt(receipt, board.verifier_key);
      const cand = live.candidate(entry.candidate);
      say('good', 'check-verified',
        h('p', { class: 'big' }, '✓ Your ballot is on the board'),
        h('p', {}, 'Entry ', h('strong', { 'data-test': 'check-index' }, `#${num(receipt.index + 1)}`), ' of ', num(checkpoint.size), ': a vote for ',
          h('strong', { 'data-test': 'check-candidate' }, cand ? cand.candidate_name : entry.candidate), ' in ', consName(live, entry.constituency), '.'),
        h('p', { class: 'muted' }, `Checked in this browser: the board's checkpoint of ${num(checkpoint.size)} ballot${checkpoint.size === 1 ? '' : 's'} is signed with the election's key (${checkpoint.origin}), and the proof leads from your entry to it. The server was not trusted for this.`));
    } catch (err) {
      say('bad', 'check-failed', h('p', {}, '✗ This receipt could not be verified: ', String(err.message || err)),
        h('p', { class: 'muted' }, 'Either the board does not hold your ballot as you cast it, or what was sent to this page was changed on the way. Keep your tracking code and tell the election authority.'));
    }
  }

  const el = h('div', { class: 'view check' },
    section('Check my ballot', h('p', {}, 'Every counted ballot is on a public bulletin board, with the tracking code its voter was given and nothing about the voter. Enter yours to see your ballot on the board, proven in your browser against the election\'s published key.'),
      form, result),
    section('What this proves, and what it does not',
      h('p', {}, 'It proves your ballot, with your choice, is among the ballots the election counts, and that the board anyone can download holds it. Anyone can recount the board (', h('code', {}, 'election verify'), ').'),
      h('p', {}, 'It does not let you prove to anyone else how you voted: every entry on the board is public, so anyone could claim any of them as theirs. Nobody can buy your vote with a receipt.')));
  if (input.value) run();
  return { title: 'Check my ballot', el, update() {} };
}

// route maps a path to a view.
export function route(live, path) {
  const m = path.match(/^\/constituencies\/([^/]+)$/);
  if (m) return constituency(live, decodeURIComponent(m[1]));
  switch (path) {
    case '/': return overview(live);
    case '/parties': return parties(live);
    case '/map': return map(live);
    case '/constituencies': return constituencies(live);
    case '/turnout': return turnout(live);
    case '/timeline': return timeline(live);
    case '/check': return check(live);
    default: return null;
  }
}

