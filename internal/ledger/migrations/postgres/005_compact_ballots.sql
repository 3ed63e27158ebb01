-- A ballot's id is kept as its 16 bytes and its minute as minutes since 1970, as on SQLite (see
-- sqlite/005_compact_ballots.sql). Rows keep their seq and txid, so relay positions are unchanged.
ALTER TABLE ballots
    ALTER COLUMN ballot_id TYPE BYTEA USING decode(replace(ballot_id, '-', ''), 'hex'),
    ALTER COLUMN cast_minute TYPE BIGINT USING CAST(extract(epoch FROM CAST(cast_minute AS TIMESTAMP)) AS BIGINT) / 60;
