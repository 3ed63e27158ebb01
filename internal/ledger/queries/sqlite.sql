-- name: BallotsAfter
-- One writer at a time: every committed snapshot holds a gap-free prefix of seq, so seq alone is a correct
-- read position. $1 (the transaction id of the position) is always 0 here.
SELECT 0, seq, ballot_id, candidate_id, constituency_id, state_code, cast_minute
FROM ballots
WHERE seq > $2
ORDER BY seq
LIMIT $3;


-- name: MarkVotedBatch
-- As in postgres.sql: the happy path of casting for a whole batch in one statement (SQLite has one
-- writer, so the guard "NOT has_voted" is never raced). /*rows*/ becomes the VALUES rows (voter id,
-- credential hash, constituency), sorted by voter id. A voter listed twice is updated once.
UPDATE voters SET has_voted = TRUE
FROM (SELECT column1 AS voter_id, column2 AS credential_hash, column3 AS constituency_id
      FROM (VALUES /*rows*/)) AS r
WHERE voters.voter_id = r.voter_id AND voters.credential_hash = r.credential_hash
  AND voters.constituency_id = r.constituency_id AND NOT voters.has_voted
RETURNING voters.voter_id, voters.address_state;
