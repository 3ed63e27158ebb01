-- A ballot's id is kept as its 16 bytes rather than 36 characters of text, and its minute as minutes
-- since 1970 rather than 19 characters: 86 bytes a ballot become about 50, the largest part of what the
-- ledger gains per ballot (65M ballots at 100M voters). The API, Kafka and the board still show both
-- as text; the ledger formats them as it reads (BallotsAfter).
--
-- SQLite keeps a column's declared type as an affinity: an integer stored in a TEXT column would be
-- turned back into text, so the table is rebuilt with its new types. seq keeps its values, so every
-- position a relay has read to still names the same ballot, and AUTOINCREMENT carries on above the
-- largest. Nothing else changes: no index on ballot_id (see 001_init.sql), no voter identity.
CREATE TABLE ballots_compact (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    ballot_id       BLOB NOT NULL,
    candidate_id    TEXT NOT NULL REFERENCES candidates (candidate_id),
    constituency_id TEXT NOT NULL,
    state_code      TEXT NOT NULL,
    cast_minute     INTEGER NOT NULL
);

INSERT INTO ballots_compact (seq, ballot_id, candidate_id, constituency_id, state_code, cast_minute)
SELECT seq, unhex(replace(ballot_id, '-', '')), candidate_id, constituency_id, state_code, unixepoch(cast_minute) / 60
FROM ballots ORDER BY seq;

DROP TABLE ballots;

ALTER TABLE ballots_compact RENAME TO ballots;
