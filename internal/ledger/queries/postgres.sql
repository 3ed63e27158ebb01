-- name: BallotsAfter
-- Sequence values commit out of order when several transactions insert at once. Reading only rows whose
-- transaction is older than every transaction still in progress (pg_snapshot_xmin) means no row can later
-- appear below the position we have read to: every transaction below that horizon has ended.
SELECT txid::text::bigint, seq, ballot_id, candidate_id, constituency_id, state_code, cast_minute
FROM ballots
WHERE (txid, seq) > ($1::text::xid8, $2)
  AND txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY txid, seq
LIMIT $3;

-- name: LookupVoters
-- The first step of casting, for a whole batch in one round trip: the voters whose credential hash and
-- constituency match the request's, with their number and state. $1, $2, $3 are arrays of voter ids,
-- credential hashes and constituencies; the caller names each voter at most once.
SELECT v.voter_id, v.voter_no, v.address_state
FROM unnest($1::text[], $2::text[], $3::text[]) AS r(voter_id, credential_hash, constituency_id)
JOIN voters AS v ON v.voter_id = r.voter_id AND v.credential_hash = r.credential_hash
  AND v.constituency_id = r.constituency_id;

-- name: LockBlocks
-- The bitmap's blocks holding the batch's voters ($1, sorted), locked until the transaction ends: what
-- makes one ballot per voter hold under concurrent batches. A batch that wants a block another holds waits
-- until that one commits, and then reads the block as committed (READ COMMITTED re-reads a row it waited
-- for), with the other batch's bits set. Locked in block order (the lock is taken after the sort), so two
-- batches cannot deadlock on each other.
SELECT block, bits FROM voted_blocks WHERE block = ANY($1::bigint[]) ORDER BY block FOR UPDATE;

-- name: MarkBlocks
-- Sets the bits $2 in the blocks $1, which this transaction holds locked.
UPDATE voted_blocks AS b SET bits = b.bits | m.bits
FROM unnest($1::bigint[], $2::bigint[]) AS m(block, bits)
WHERE b.block = m.block;

-- name: PollsGuardCast
-- Taken by every cast batch's transaction before it reads whether the polls are closed, and held until
-- it commits. PollsGuardClose takes the same advisory lock exclusively, so closing waits for every batch
-- in flight, and a batch that starts while closing is under way waits until the close has committed and
-- then sees it. No ballot commits after the polls close. (The key is the ledger's own: see dialect.go.)
SELECT pg_advisory_xact_lock_shared(726174);

-- name: PollsGuardClose
SELECT pg_advisory_xact_lock(726174);
