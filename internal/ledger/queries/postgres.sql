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

