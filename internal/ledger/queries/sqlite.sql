-- name: BallotsAfter
-- One writer at a time: every committed snapshot holds a gap-free prefix of seq, so seq alone is a correct
-- read position. $1 (the transaction id of the position) is always 0 here.
SELECT 0, seq, ballot_id, candidate_id, constituency_id, state_code, cast_minute
FROM ballots
WHERE seq > $2
ORDER BY seq
LIMIT $3;

-- name: CountBallotsAfter
-- The ballots after seq $1 (all settled, none pending: the second column) and the largest seq among them
-- (NULL when there are none): BallotCount adds them to the count it holds. For the reason above, a
-- ballot committed later always has a larger seq than every ballot an earlier snapshot held, so the two
-- counts add up to COUNT(*) of the later snapshot. A range of the primary key, not a walk of every page
-- of the table, which COUNT(*) is.
SELECT COUNT(*), 0, MAX(seq) FROM ballots WHERE seq > $1;

-- Who has voted: the bitmap voted_blocks and the turnout counters (see voted.go).

-- name: AddBlocks
-- The bitmap's rows for voter numbers $1*64 .. $2*64+63, all bits clear; blocks that exist are kept.
WITH RECURSIVE b (n) AS (SELECT CAST($1 AS INTEGER) UNION ALL SELECT n + 1 FROM b WHERE n < $2)
INSERT INTO voted_blocks (block, bits) SELECT n, 0 FROM b WHERE TRUE
ON CONFLICT (block) DO NOTHING;

-- name: LookupVoters
-- The voters whose credential hash and constituency match the request's, with their number and their
-- state. Whether they have voted, the writer's copy of the voted set says (voted.go).
-- /*rows*/ becomes the VALUES rows (voter id, the number the id gives or NULL, credential hash,
-- constituency). A voter is found by number: the one voter_ids gives the id, else the one the id gives,
-- and the row must be that id's: kept in the row, or none kept and the number the id's own
-- (008_register_by_number.sql).
SELECT r.voter_id, v.voter_no, v.state_code
FROM (SELECT column1 AS voter_id, column2 AS voter_no, column3 AS credential_hash, column4 AS constituency_id
      FROM (VALUES /*rows*/)) AS r
JOIN voters AS v
  ON v.voter_no = IFNULL((SELECT a.voter_no FROM voter_ids AS a WHERE a.voter_id = r.voter_id), r.voter_no)
  AND (v.voter_id = r.voter_id OR v.voter_id IS NULL AND v.voter_no = r.voter_no)
  AND v.credential_hash = r.credential_hash AND v.constituency_id = r.constituency_id;

-- name: ExistingVoters
-- Which of the ids /*rows*/ lists (rows of the id and the number it gives, or NULL) a registered voter
-- has: kept in voter_ids, or given by the number of a voter who keeps no id.
SELECT r.column1 FROM (VALUES /*rows*/) AS r
WHERE EXISTS (SELECT 1 FROM voter_ids AS a WHERE a.voter_id = r.column1)
   OR EXISTS (SELECT 1 FROM voters AS v WHERE v.voter_no = r.column2 AND v.voter_id IS NULL);

-- name: InsertVoterIDs
-- The ids of voters whose number does not give their id, with that number; /*rows*/ becomes the rows.
INSERT INTO voter_ids (voter_id, voter_no) VALUES /*rows*/;

-- name: AnyVoterIDs
SELECT EXISTS (SELECT 1 FROM voter_ids);

-- name: ScanVoters
-- The register's rows of voter numbers [$1, $2), in order, for the writer's copy of it (registercopy.go):
-- whether the voter keeps an id of their own, their place and their credential hash.
SELECT voter_no, voter_id IS NOT NULL, constituency_id, state_code, credential_hash
FROM voters WHERE voter_no >= $1 AND voter_no < $2 ORDER BY voter_no;

-- name: MarkRecent
-- Adds voters to the recent marks; /*rows*/ becomes the (number) rows. The primary key refuses a number
-- marked twice, and the whole batch with it.
-- OR FAIL, not the default ABORT: ABORT undoes a failing statement's own rows, and to do that SQLite
-- copies every page the statement changes to a statement journal first, which spills to a temporary
-- file past 64 KiB (a batch's marks change a hundred pages or more). The batch's transaction is rolled
-- back whole on any error (Store.inTx), so what ABORT would undo is undone anyway.
INSERT OR FAIL INTO voted_recent (voter_no) VALUES /*rows*/;

-- name: CountRecent
SELECT COUNT(*) FROM voted_recent;

-- name: FoldRecent
-- Sets every recent mark's bit in the bitmap. The numbers are unique (the primary key), so the powers of
-- two summed per block are distinct and their sum is their bitwise or (see 003_voted_bits.sql). OR FAIL
-- for MarkRecent's reason: a fold changes nearly every page of the bitmap at 100M voters.
UPDATE OR FAIL voted_blocks SET bits = voted_blocks.bits | f.bits
FROM (SELECT voter_no >> 6 AS block, SUM(1 << (voter_no & 63)) AS bits FROM voted_recent GROUP BY voter_no >> 6) AS f
WHERE voted_blocks.block = f.block;

-- name: ClearRecent
DELETE FROM voted_recent;

-- name: AddTurnout
-- /*rows*/ becomes (state, voters) rows, one per state a batch marked voters in.
INSERT INTO turnout (state_code, voters) VALUES /*rows*/
ON CONFLICT (state_code) DO UPDATE SET voters = turnout.voters + excluded.voters;

-- name: FindVoter
-- The voter's constituency, state and credential hash, and whether they have voted: their bit is set,
-- or they are among the recent marks not folded into the bitmap yet. $1 is the voter id, $2 the number
-- it gives or NULL; the voter is found as LookupVoters finds them.
SELECT v.constituency_id, v.state_code, v.credential_hash,
       COALESCE((SELECT (b.bits >> (v.voter_no & 63)) & 1 FROM voted_blocks AS b WHERE b.block = v.voter_no >> 6), 0)
       | EXISTS (SELECT 1 FROM voted_recent AS r WHERE r.voter_no = v.voter_no)
FROM voters AS v
WHERE v.voter_no = IFNULL((SELECT a.voter_no FROM voter_ids AS a WHERE a.voter_id = $1), $2)
  AND (v.voter_id = $1 OR v.voter_id IS NULL AND v.voter_no = $2);

-- name: VotedBlocks
-- Every block of the bitmap, for a count of its bits (Totals).
SELECT bits FROM voted_blocks;

-- name: LoadVotedBlocks
-- Every block of the bitmap with its number, for the writer's copy of the voted set (voted.go).
SELECT block, bits FROM voted_blocks ORDER BY block;

-- name: LoadRecent
SELECT voter_no FROM voted_recent;

-- name: DataVersion
-- Changes when another connection, in this process or another, has committed to the database since this
-- connection last looked; never for this connection's own commits.
PRAGMA data_version;

-- name: CopyConnection
-- 1 on the connection the writer's copy of who has voted was loaded through, 0 on any other: the temp
-- schema is the connection's own, and a new connection's data_version says nothing of the old one's.
PRAGMA temp.user_version;

-- name: MarkCopyConnection
PRAGMA temp.user_version = 1;

-- name: CountVoted
SELECT COALESCE(SUM(voters), 0) FROM turnout;

-- name: VotedPerState
SELECT state_code, voters FROM turnout;

-- name: MarkVotedBatch
-- Empty: PostgreSQL's table voted (see postgres.sql).

-- name: PollsGuardCast
-- Empty: nothing to lock. Every write transaction begins IMMEDIATE on the one write connection, so a cast
-- batch and closing the polls never overlap (Store.guardPolls runs nothing for an empty guard).

-- name: PollsGuardClose
-- Empty, as PollsGuardCast.
