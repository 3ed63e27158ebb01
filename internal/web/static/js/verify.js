// Checking a receipt in the browser, against the election's published key, trusting neither the server
// nor the network: the checkpoint is a C2SP signed note (Ed25519, checked with WebCrypto), and the entry's
// RFC 6962 inclusion proof must lead from the entry to the checkpoint's root. The same checks as the Go
// board.VerifyReceipt, written again here so the voter's own browser does them.

const enc = new TextEncoder();

function b64(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

// parseVerifierKey reads a signed-note verifier key: "name+hash+base64(0x01 || Ed25519 public key)".
export function parseVerifierKey(vkey) {
  // The key's base64 may itself hold '+': split at the first two only.
  const m = String(vkey).match(/^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/);
  if (!m) throw new Error('the published verifier key is malformed');
  const parts = m.slice(1);
  const raw = b64(parts[2]);
  if (raw.length !== 33 || raw[0] !== 1) throw new Error('the published verifier key is not an Ed25519 key');
  return { name: parts[0], hash: parseInt(parts[1], 16), key: raw.slice(1) };
}

// openNote checks a signed note against the key and returns its text (the signed part).
export async function openNote(note, vkey) {
  const k = parseVerifierKey(vkey);
  const split = note.indexOf('\n\n');
  if (split < 0) throw new Error('the checkpoint is not a signed note');
  const text = note.slice(0, split + 1);
  const key = await crypto.subtle.importKey('raw', k.key, { name: 'Ed25519' }, false, ['verify']);
  for (const line of note.slice(split + 2).split('\n')) {
    const m = line.match(/^\u2014 (\S+) (\S+)$/);
    if (!m || m[1] !== k.name) continue;
    const sig = b64(m[2]);
    if (sig.length !== 68) continue;
    const hash = ((sig[0] << 24) | (sig[1] << 16) | (sig[2] << 8) | sig[3]) >>> 0;
    if (hash !== k.hash) continue;
    if (await crypto.subtle.verify({ name: 'Ed25519' }, key, sig.slice(4), enc.encode(text))) return text;
  }
  throw new Error(`the checkpoint is not signed with the election's key (${k.name})`);
}

// parseCheckpoint reads a checkpoint's text: origin, size, root hash.
export function parseCheckpoint(text) {
  const lines = text.split('\n');
  if (lines.length < 4 || !/^\d+$/.test(lines[1])) throw new Error('the checkpoint is malformed');
  return { origin: lines[0], size: Number(lines[1]), root: b64(lines[2]) };
}

export const leafHash = (data) => sha256(concat(new Uint8Array([0]), data));
const nodeHash = (l, r) => sha256(concat(new Uint8Array([1]), l, r));

// rootFromProof computes the root an inclusion proof leads to (RFC 9162, section 2.1.3.2).
export async function rootFromProof(index, size, leaf, proof) {
  if (index >= size) throw new Error('the entry is outside the checkpoint');
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new Error('the inclusion proof is too long');
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error('the inclusion proof is too short');
  return r;
}

// verifyReceipt checks a receipt (GET /api/v1/receipts/{code}) against the board's verifier key and
// returns the entry and the checkpoint it is proven to be in; it throws with the reason otherwise.
export async function verifyReceipt(receipt, vkey) {
  if (!receipt.on_board) throw new Error('the ballot is not on the board yet');
  const cp = parseCheckpoint(await openNote(receipt.checkpoint, vkey));
  if (cp.origin !== parseVerifierKey(vkey).name) throw new Error('the checkpoint is of another board');
  const entry = JSON.parse(receipt.entry);
  if (entry.code !== receipt.code) throw new Error('the entry is not the one for this tracking code');
  const root = await rootFromProof(receipt.index, cp.size, await leafHash(enc.encode(receipt.entry)), (receipt.inclusion_proof || []).map(b64));
  if (!equal(root, cp.root)) throw new Error('the inclusion proof does not lead to the signed checkpoint: this entry is not proven to be on the board');
  return { entry, checkpoint: cp };
}
