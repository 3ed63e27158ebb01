// Unit tests of the page's pure functions, run with Node's own test runner: node --test internal/web/jstest/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { applyDelta, indexResults } from '../static/js/live.js';

function snapshot() {
  return {
    registered_voters: 10, ballots_counted: 2, turnout: 0.2, polls_closed: false, leader: 'a1',
    candidates: [{ candidate_id: 'a1', candidate_name: 'Asha', votes: 2, share: 1 }, { candidate_id: 'a2', candidate_name: 'Ravi', votes: 0, share: 0 }],
    parties: [{ party_id: 'p', name: 'P', votes: 2, share: 1, seats_won: 0, seats_leading: 1 }],
    states: [{ state: 'X', name: 'Ex', ballots: 2, registered: 10, turnout: 0.2, leading_party: 'p' }],
    constituencies: [{ constituency_id: 'A', name: 'Aye', state: 'X', ballots: 2, leader: 'a1', leader_party: 'p', runner_up: 'a2', margin: 2, status: 'counting' }],
    timeline: [{ minute: '2026-11-25 10:00', ballots: 2 }],
  };
}

test('a delta changes the figures it carries and keeps the fixed fields', () => {
  const r = snapshot();
  const ix = indexResults(r);
  applyDelta(r, ix, {
    registered_voters: 10, ballots_counted: 3, turnout: 0.3, polls_closed: false, leader: 'a1',
    candidates: [{ candidate_id: 'a2', votes: 1, share: 1 / 3 }],
    timeline: [{ minute: '2026-11-25 10:01', ballots: 1 }],
  });
  assert.equal(r.ballots_counted, 3);
  assert.deepEqual(r.candidates[1], { candidate_id: 'a2', candidate_name: 'Ravi', votes: 1, share: 1 / 3 });
  assert.equal(r.candidates[0].votes, 2);
  assert.deepEqual(r.timeline.map((m) => m.minute), ['2026-11-25 10:00', '2026-11-25 10:01']);
});

test('a race that becomes level loses its leader', () => {
  const r = snapshot();
  applyDelta(r, indexResults(r), {
    ballots_counted: 4, leader: '',
    constituencies: [{ constituency_id: 'A', ballots: 4, registered: 10, turnout: 0.4, leader: '', leader_party: '', runner_up: 'a2', margin: 0, status: 'counting' }],
    states: [{ state: 'X', ballots: 4, registered: 10, turnout: 0.4, leading_party: '' }],
  });
  const race = r.constituencies[0];
  assert.equal(race.leader, '');
  assert.equal(race.leader_party, '');
  assert.equal(race.name, 'Aye');
  assert.equal(r.states[0].leading_party, '');
  assert.equal(r.leader, '');
});

test('a row the snapshot does not know is ignored', () => {
  const r = snapshot();
  applyDelta(r, indexResults(r), { ballots_counted: 2, candidates: [{ candidate_id: 'zz', votes: 9, share: 1 }] });
  assert.equal(r.candidates.length, 2);
});

test('the call says only what is certain', async () => {
  const { callText } = await import('../static/js/live.js');
  assert.equal(callText({ status: 'majority', party: 'p', declared: 300, tied: 0, seats: 543 }, 'Party P', 300), 'Party P wins a majority: 300 of 543 seats.');
  assert.equal(callText({ status: 'majority', party: 'p', declared: 1, tied: 0, seats: 1 }, 'Party P', 1), 'Party P wins.');
  assert.equal(callText({ status: 'hung', declared: 538, tied: 5, seats: 543 }), 'No party can reach a majority: a hung parliament (538 of 543 races declared, 5 tied).');
  assert.equal(callText({ status: 'too early', declared: 0, tied: 0, seats: 543 }), 'Too early to call: 0 of 543 races declared.');
  assert.equal(callText({ status: 'embargoed', seats: 543 }), 'Results are embargoed until the polls close.');
  assert.equal(callText(undefined), '');
});
