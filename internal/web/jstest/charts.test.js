import { test } from 'node:test';
import assert from 'node:assert/strict';

import { niceCeil } from '../static/js/charts.js';

test('axes end at round numbers', () => {
  assert.equal(niceCeil(79235), 100000);
  assert.equal(niceCeil(39618), 50000);
  assert.equal(niceCeil(21), 25);
  assert.equal(niceCeil(200), 200);
  assert.equal(niceCeil(0.62), 1);
  assert.equal(niceCeil(0), 1);
  assert.equal(niceCeil(1), 1);
});

test('the timeline adds running totals and turnout, minute by minute in order', async () => {
  const { runningTotals } = await import('../static/js/views.js');
  const rows = runningTotals([{ minute: '2026-11-25 10:01', ballots: 3 }, { minute: '2026-11-25 10:00', ballots: 2 }], 10);
  assert.deepEqual(rows, [
    { minute: '2026-11-25 10:00', ballots: 2, so_far: 2, turnout: 0.2 },
    { minute: '2026-11-25 10:01', ballots: 3, so_far: 5, turnout: 0.5 },
  ]);
  assert.deepEqual(runningTotals([], 0), []);
});

test('text on a party colour is dark on light colours and white on dark ones', async () => {
  const { textOn } = await import('../static/js/charts.js');
  assert.equal(textOn('#d4ac0d'), '#111'); // the yellow party
  assert.equal(textOn('#ffffff'), '#111');
  assert.equal(textOn('#1f77b4'), '#fff');
  assert.equal(textOn('#4a5568'), '#fff');
  assert.equal(textOn('#000'), '#fff');
  assert.equal(textOn('not a colour'), '#fff');
});
