-- name: BallotsAfter
-- One writer at a time: every committed snapshot holds a gap-free prefix of seq, so seq alone is a correct
-- read position. $1 (the transaction id of the position) is always 0 here.
SELECT 0, seq, ballot_id, candidate_id, constituency_id, state_code, cast_minute
FROM ballots
WHERE seq > $2
ORDER BY seq
LIMIT $3;


-- name: LookupVoters
-- As in postgres.sql; /*rows*/ becomes the VALUES rows (voter id, credential hash, constituency).
SELECT v.voter_id, v.voter_no, v.address_state
FROM (SELECT column1 AS voter_id, column2 AS credential_hash, column3 AS constituency_id
      FROM (VALUES /*rows*/)) AS r
JOIN voters AS v ON v.voter_id = r.voter_id AND v.credential_hash = r.credential_hash
  AND v.constituency_id = r.constituency_id;

-- name: LockBlocks
-- No lock needed: every write transaction begins IMMEDIATE on the one write connection, so no other
-- batch runs until this one ends. /*rows*/ becomes the list of blocks.
SELECT block, bits FROM voted_blocks WHERE block IN (/*rows*/);

-- name: MarkBlocks
-- As in postgres.sql; /*rows*/ becomes the (block, bits) rows.
UPDATE voted_blocks SET bits = voted_blocks.bits | m.bits
FROM (SELECT column1 AS block, column2 AS bits FROM (VALUES /*rows*/)) AS m
WHERE voted_blocks.block = m.block;

-- name: PollsGuardCast
-- Empty: nothing to lock. Every write transaction begins IMMEDIATE on the one write connection, so a cast
-- batch and closing the polls never overlap (Store.guardPolls runs nothing for an empty guard).

-- name: PollsGuardClose
-- Empty, as PollsGuardCast.
