-- Who has voted moves out of the wide voters row into a narrow table of its own. Marking a voter rewrote
-- their whole voters row (about 300 bytes, some 13 to a page); voters turn up in no particular order, so
-- every ballot dirtied a different page and each commit wrote one page to the WAL per ballot. A row of
-- `voted` is about 20 bytes, some 200 to a page: the cast path went from 28k to 72k ballots/s
-- (BenchmarkCastBatch, 200k voters).
--
-- WITHOUT ROWID: rows are stored in voter id order, so the table keeps no trace of the order in which
-- people voted (a rowid would count up in voting order). No time of voting is kept. state_code is the
-- voter's state at the time they voted, copied from voters.address_state in the same statement, so
-- turnout per state needs no join. No foreign key: the row is only ever inserted by selecting the voter
-- from voters (so the voter exists), voters are never deleted, and the check cost 10% of the cast path.
CREATE TABLE voted (
    voter_id   TEXT PRIMARY KEY,
    state_code TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO voted (voter_id, state_code) SELECT voter_id, address_state FROM voters WHERE has_voted;

ALTER TABLE voters DROP COLUMN has_voted;
