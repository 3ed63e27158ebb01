-- name: BallotsAfter
-- One writer at a time: every committed snapshot holds a gap-free prefix of seq, so seq alone is a correct
-- read position. $1 (the transaction id of the position) is always 0 here.
SELECT 0, seq, ballot_id, candidate_id, constituency_id, state_code, cast_minute
FROM ballots
WHERE seq > $2
ORDER BY seq
LIMIT $3;

