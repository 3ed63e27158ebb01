import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { verifyReceipt, parseVerifierKey, rootFromProof } from '../static/js/verify.js';

// A real receipt from a real board, written by the Go tests (fixture_test.go), which check it with the Go
// verifier too.
const fixture = JSON.parse(readFileSync(new URL('./testdata/receipt.json', import.meta.url)));
const copy = () => JSON.parse(JSON.stringify(fixture.receipt));

test('a genuine receipt verifies against the published key', async () => {
  const { entry, checkpoint } = await verifyReceipt(fixture.receipt, fixture.verifier_key);
  assert.equal(entry.code, fixture.receipt.code);
  assert.equal(checkpoint.size, 300);
});

test('a receipt for another candidate is refused', async () => {
  const r = copy();
  const e = JSON.parse(r.entry);
  e.candidate = e.candidate === 'cand-1' ? 'cand-3' : 'cand-1';
  r.entry = JSON.stringify(e);
  await assert.rejects(verifyReceipt(r, fixture.verifier_key), /does not lead to the signed checkpoint/);
});

test('a receipt moved to another index is refused', async () => {
  const r = copy();
  r.index += 1;
  await assert.rejects(verifyReceipt(r, fixture.verifier_key), /does not lead|too/);
});

test('a proof with a hash changed is refused', async () => {
  const r = copy();
  r.inclusion_proof[0] = r.inclusion_proof[1];
  await assert.rejects(verifyReceipt(r, fixture.verifier_key), /does not lead to the signed checkpoint/);
});

test('a checkpoint signed by another key is refused', async () => {
  await assert.rejects(verifyReceipt(fixture.receipt, fixture.other_key), /not signed with the election's key/);
});

test('a checkpoint whose text was changed is refused', async () => {
  const r = copy();
  r.checkpoint = r.checkpoint.replace('\n300\n', '\n301\n');
  await assert.rejects(verifyReceipt(r, fixture.verifier_key), /not signed with the election's key/);
});

test('an entry for another tracking code is refused', async () => {
  const r = copy();
  r.code = 'fixture-000';
  await assert.rejects(verifyReceipt(r, fixture.verifier_key), /not the one for this tracking code/);
});

test('malformed keys and proofs are refused', async () => {
  assert.throws(() => parseVerifierKey('nonsense'), /malformed/);
  await assert.rejects(rootFromProof(5, 5, new Uint8Array(32), []), /outside/);
  await assert.rejects(rootFromProof(0, 4, new Uint8Array(32), []), /too short/);
});
