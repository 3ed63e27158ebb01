-- Who has voted moves out of the wide voters row into a narrow table of its own, as on SQLite (see
-- sqlite/002_voted.sql). Here an insert of a 20-byte row replaces the update of a 300-byte one (which
-- wrote a whole new row version): the cast path went from 47k to 52k ballots/s (BenchmarkCastBatch,
-- 200k voters). One ballot per voter is now the primary key: two transactions inserting the same voter
-- serialise on the key, and the second does nothing (ON CONFLICT DO NOTHING).
--
-- No time of voting is kept. No foreign key: the row is only ever inserted by selecting the voter from
-- voters, voters are never deleted, and the check's per-row trigger cost a third of the cast path.
CREATE TABLE voted (
    voter_id   TEXT PRIMARY KEY,
    state_code TEXT NOT NULL
);

INSERT INTO voted (voter_id, state_code) SELECT voter_id, address_state FROM voters WHERE has_voted;

ALTER TABLE voters DROP COLUMN has_voted;
