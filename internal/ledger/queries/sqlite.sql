-- name: BallotsAfter
-- One writer at a time: every committed snapshot holds a gap-free prefix of seq, so seq alone is a correct
-- read position. $1 (the transaction id of the position) is always 0 here.
SELECT 0, seq, ballot_id, candidate_id, constituency_id, state_code, cast_minute
FROM ballots
WHERE seq > $2
ORDER BY seq
LIMIT $3;


-- name: MarkVotedBatch
-- As in postgres.sql: the happy path of casting for a whole batch in one statement; a voter already in
-- voted is skipped by the primary key and not returned. /*rows*/ becomes the VALUES rows (voter id,
-- credential hash, constituency), sorted by voter id. A voter listed twice is inserted once. "WHERE
-- TRUE" is SQLite's way to tell an INSERT ... SELECT's join from the ON CONFLICT clause.
INSERT INTO voted (voter_id, state_code)
SELECT v.voter_id, v.address_state
FROM (SELECT column1 AS voter_id, column2 AS credential_hash, column3 AS constituency_id
      FROM (VALUES /*rows*/)) AS r
JOIN voters AS v ON v.voter_id = r.voter_id AND v.credential_hash = r.credential_hash
  AND v.constituency_id = r.constituency_id
WHERE TRUE
ON CONFLICT (voter_id) DO NOTHING
RETURNING voter_id, state_code;

-- name: PollsGuardCast
-- Empty: nothing to lock. Every write transaction begins IMMEDIATE on the one write connection, so a cast
-- batch and closing the polls never overlap (Store.guardPolls runs nothing for an empty guard).

-- name: PollsGuardClose
-- Empty, as PollsGuardCast.
