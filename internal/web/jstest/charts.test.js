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

test('a seat label stays clear of the majority line', async () => {
  const { labelAt } = await import('../static/js/charts.js');
  assert.equal(labelAt(0, 100, 40, 300), 50); // the line is elsewhere: the middle
  assert.equal(labelAt(0, 30, 40, 300), null); // too narrow
  const left = labelAt(0, 200, 40, 110); // the line near the middle: in the larger part, clear of it
  assert.ok(left + 20 <= 110 && left - 20 >= 0, `label at ${left}`);
  const right = labelAt(100, 200, 40, 190);
  assert.ok(right - 20 >= 190 && right + 20 <= 300, `label at ${right}`);
  assert.equal(labelAt(0, 60, 40, 30), null); // neither side holds it
});
