-- Who has voted becomes a bitmap, as on SQLite (see sqlite/003_voted_bits.sql for why): one bit per voter,
-- 64 voters to a row of voted_blocks, and turnout per state in counters. A cast batch locks the blocks it
-- marks (SELECT ... FOR UPDATE, in block order), so concurrent batches serialise per block: see
-- LockBlocks and the ledger package doc.
ALTER TABLE voters ADD COLUMN voter_no BIGINT NOT NULL DEFAULT -1;

UPDATE voters SET voter_no = n.no
FROM (SELECT voter_id, row_number() OVER (ORDER BY voter_id) - 1 AS no FROM voters) AS n
WHERE voters.voter_id = n.voter_id;

ALTER TABLE voters ALTER COLUMN voter_no DROP DEFAULT;

INSERT INTO meta (key, value) SELECT 'voters_numbered', CAST(COALESCE(MAX(voter_no) + 1, 0) AS TEXT) FROM voters;

-- fillfactor: every cast rewrites its blocks' rows; room on the page keeps the new row versions there
-- (heap-only updates, no index write).
CREATE TABLE voted_blocks (
    block BIGINT PRIMARY KEY,
    bits  BIGINT NOT NULL
) WITH (fillfactor = 50);

INSERT INTO voted_blocks (block, bits)
SELECT v.voter_no >> 6, bit_or(CAST(1 AS BIGINT) << CAST(v.voter_no & 63 AS INTEGER))
FROM voted JOIN voters AS v ON v.voter_id = voted.voter_id
GROUP BY v.voter_no >> 6;

INSERT INTO voted_blocks (block, bits)
SELECT DISTINCT voter_no >> 6, 0 FROM voters
ON CONFLICT (block) DO NOTHING;

CREATE TABLE turnout (
    state_code TEXT NOT NULL,
    shard      INTEGER NOT NULL,
    voters     BIGINT NOT NULL,
    PRIMARY KEY (state_code, shard)
);

INSERT INTO turnout (state_code, shard, voters) SELECT state_code, 0, COUNT(*) FROM voted GROUP BY state_code;

DROP TABLE voted;
