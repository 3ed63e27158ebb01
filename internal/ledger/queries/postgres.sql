-- name: BallotsAfter
-- Sequence values commit out of order when several transactions insert at once. Reading only rows whose
-- transaction is older than every transaction still in progress (pg_snapshot_xmin) means no row can later
-- appear below the position we have read to: every transaction below that horizon has ended.
-- The ORDER BY names the table's columns: a bare "txid" would be the output column of that name, the
-- bigint, which no index orders, and a relay far behind would then sort every ballot after its position
-- at every round (2.7 s a round with 7M ballots to go, against 1.5 ms along ballots_position).
SELECT txid::text::bigint, seq, ballot_id, candidate_id, constituency_id, state_code, cast_minute
FROM ballots
WHERE (txid, seq) > ($1::text::xid8, $2)
  AND txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY ballots.txid, ballots.seq
LIMIT $3;

-- Who has voted: the table voted, a row per voter, whose primary key arbitrates between concurrent
-- batches (see voted.go for why PostgreSQL does not keep the bitmap SQLite keeps).

-- name: MarkVotedBatch
-- The happy path of casting for a whole batch, in one round trip: right credential, standing in the
-- candidate's constituency, not voted yet. The primary key of voted is what makes one ballot per voter
-- hold under concurrent casts: a second transaction inserting the same voter waits for the first, and
-- once that commits its own insert does nothing (ON CONFLICT DO NOTHING) and returns no row. When a
-- voter's row is not returned, FindVoter tells why. $1, $2, $3 are arrays of voter ids, credential
-- hashes and constituencies, sorted by voter id (so two batches take their keys in the same order). A
-- voter listed twice is inserted (and returned) once.
INSERT INTO voted (voter_id, state_code)
SELECT v.voter_id, v.state_code
FROM unnest($1::text[], $2::bytea[], $3::text[]) AS r(voter_id, credential_hash, constituency_id)
JOIN voters AS v ON v.voter_id = r.voter_id AND v.credential_hash = r.credential_hash
  AND v.constituency_id = r.constituency_id
ON CONFLICT (voter_id) DO NOTHING
RETURNING voter_id, state_code;

-- name: ExistingVoters
-- Which of the ids /*rows*/ lists (one column a row) are registered.
SELECT voter_id FROM voters WHERE voter_id IN (/*rows*/);

-- name: InsertVoterIDs
-- Empty: the register is keyed by voter id here, so every voter's id is in its row.

-- name: AnyVoterIDs
-- Empty, as InsertVoterIDs.

-- name: ScanVoters
-- Empty: the writer's copy of the register is SQLite's (registercopy.go); PostgreSQL's writers look
-- their voters up in the register itself.

-- name: FindVoter
-- $1 is the voter id.
SELECT v.constituency_id, v.state_code, v.credential_hash, EXISTS (SELECT 1 FROM voted WHERE voted.voter_id = v.voter_id)
FROM voters AS v WHERE v.voter_id = $1;

-- name: CountVoted
SELECT COUNT(*) FROM voted;

-- name: VotedPerState
SELECT state_code, COUNT(*) FROM voted GROUP BY state_code;

-- name: CountBallotsAfter
-- The ballots from transaction id $1 on, in two parts: those below the horizon (pg_snapshot_xmin, as in
-- BallotsAfter), whose count is settled since every transaction below it has ended, and those above it,
-- which a transaction still running may yet join; then the horizon, where the next count starts.
-- BallotCount adds the settled part to what it holds and the rest to what it answers: COUNT(*) of this
-- statement's snapshot, from a range of ballots_position rather than a scan of the table (at 70M ballots
-- a parallel scan of some seconds, taken by every process's status line).
SELECT COUNT(b.seq) FILTER (WHERE b.txid < h.x), COUNT(b.seq) FILTER (WHERE b.txid >= h.x),
       GREATEST(h.x, $1::bigint::text::xid8)::text::bigint
FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x) AS h
LEFT JOIN ballots AS b ON b.txid >= $1::bigint::text::xid8
GROUP BY h.x;

-- name: AddBlocks
-- Empty, as the other queries of SQLite's bitmap: LookupVoters, MarkRecent, CountRecent, FoldRecent,
-- ClearRecent, AddTurnout, VotedBlocks, LoadVotedBlocks, LoadRecent, DataVersion, CopyConnection and
-- MarkCopyConnection. Voters are numbered all the same, so registration is one code path.

-- name: LookupVoters

-- name: MarkRecent

-- name: CountRecent

-- name: FoldRecent

-- name: ClearRecent

-- name: AddTurnout

-- name: VotedBlocks

-- name: LoadVotedBlocks

-- name: LoadRecent

-- name: DataVersion

-- name: CopyConnection

-- name: MarkCopyConnection

-- name: PollsGuardCast
-- Taken by every cast batch's transaction before it reads whether the polls are closed, and held until
-- it commits. PollsGuardClose takes the same advisory lock exclusively, so closing waits for every batch
-- in flight, and a batch that starts while closing is under way waits until the close has committed and
-- then sees it. No ballot commits after the polls close. (The key is the ledger's own: see dialect.go.)
SELECT pg_advisory_xact_lock_shared(726174);

-- name: PollsGuardClose
SELECT pg_advisory_xact_lock(726174);
