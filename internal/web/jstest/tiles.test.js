import { test } from 'node:test';
import assert from 'node:assert/strict';

import { layout, INDIA } from '../static/js/tiles.js';

test('Indian states take their places on the map; unknown codes fill rows below', () => {
  const out = layout(['UP', 'KL', 'XX', 'YY']);
  assert.deepEqual(out.get('UP'), INDIA.UP);
  assert.deepEqual(out.get('KL'), INDIA.KL);
  const below = Math.max(INDIA.UP[1], INDIA.KL[1]) + 1;
  assert.deepEqual(out.get('XX'), [0, below]);
  assert.deepEqual(out.get('YY'), [1, below]);
});

test('the seed election gets the compass layout', () => {
  const out = layout(['N', 'S', 'E', 'W', 'C']);
  assert.deepEqual(out.get('N'), [1, 0]);
  assert.deepEqual(out.get('C'), [1, 1]);
});

test('codes no layout knows fill rows of the given width', () => {
  const out = layout(['a', 'b', 'c'], 2);
  assert.deepEqual([...out.values()], [[0, 0], [1, 0], [0, 1]]);
});

test('every state has a place of its own', () => {
  const seen = new Set(Object.values(INDIA).map((p) => p.join(',')));
  assert.equal(seen.size, Object.keys(INDIA).length);
});
