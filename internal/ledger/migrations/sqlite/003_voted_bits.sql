-- Who has voted becomes a bitmap: one bit per voter, 64 voters to a row of voted_blocks. The voted table
-- held a row per voter who had voted, in voter id order; voters turn up in no particular order, so once
-- it grew far past one batch, every ballot dirtied a page of its own and each commit wrote a page per
-- ballot to the WAL (BenchmarkCastBatch, 2M voters: about 30% of the cast path in pwrite). The bitmap is
-- 16 bytes a row for 64 voters, about 4 MB for 10M voters, so a batch's writes land on far fewer pages,
-- and all of them stay in the cache.
--
-- Each voter gets a number (voter_no) at registration, counted by the meta key voters_numbered; their
-- bit is bit (voter_no % 64) of block voter_no / 64. Turnout per state moves to counters. Like the voted
-- table, none of this keeps a time or the order of voting: a block holds bits, not rows in order, and the
-- counters only sums.
ALTER TABLE voters ADD COLUMN voter_no INTEGER NOT NULL DEFAULT -1;

UPDATE voters SET voter_no = rowid - 1;

INSERT INTO meta (key, value) SELECT 'voters_numbered', CAST(COALESCE(MAX(voter_no) + 1, 0) AS TEXT) FROM voters;

-- block = voter_no / 64 is the rowid: blocks are stored in number order.
CREATE TABLE voted_blocks (
    block INTEGER PRIMARY KEY,
    bits  INTEGER NOT NULL
);

-- SQLite has no bitwise-or aggregate. The bits of one block are distinct powers of two (voter numbers
-- are unique, and so were voted rows), so their sum is their bitwise or; bit 63 is the most negative
-- integer, and no partial sum leaves the 64-bit range.
INSERT INTO voted_blocks (block, bits)
SELECT v.voter_no >> 6, SUM(1 << (v.voter_no & 63))
FROM voted JOIN voters AS v ON v.voter_id = voted.voter_id
GROUP BY v.voter_no >> 6;

INSERT INTO voted_blocks (block, bits)
SELECT DISTINCT voter_no >> 6, 0 FROM voters WHERE TRUE
ON CONFLICT (block) DO NOTHING;

-- Voters who have voted, per state: what turnout per state reads, without a scan of the bitmap.
CREATE TABLE turnout (
    state_code TEXT PRIMARY KEY,
    voters     INTEGER NOT NULL
);

INSERT INTO turnout (state_code, voters) SELECT state_code, COUNT(*) FROM voted GROUP BY state_code;

DROP TABLE voted;
