-- The register of voters is keyed by voter number (the rowid), not by voter id, and keeps a voter's id
-- only when it is not the one the number gives (voter.ID: "V000000001" is number 0, the synthetic
-- generator's ids). Every other id is in voter_ids, with its number.
--
-- Why: every cast looks its voter up in the register, and at 100M voters that was a walk down a 5.3 GB
-- B-tree of text keys, most of its leaves out of the writer's cache. Keyed by integer the rows hold no key
-- text and the walk compares integers: at 30M voters the register took 0.92 GB against 1.67 GB, and a
-- lookup of 256 voters at random in one statement cost 6.2-6.6 against 7.6-9.3 µs of CPU a voter
-- (docs/measured.md, "The register keyed by number"). Registration writes the smaller rows in order too.
--
-- A voter's id, either way: voter_id if it is not NULL, else voter.ID(voter_no). voter_ids holds exactly
-- the voters whose voter_id is not NULL. No two voters share an id: two numbers give two ids; voter_ids'
-- key refuses an id twice; and registering checks that an id kept in voter_ids is not the id of a voter
-- kept without one, and the reverse (Store.existingVoters).
--
-- Secret ballot: the register holds who may vote, nothing of how or when anyone voted, as before.
CREATE TABLE voters_by_number (
    voter_no        INTEGER PRIMARY KEY,
    voter_id        TEXT,
    constituency_id TEXT NOT NULL REFERENCES constituencies (constituency_id),
    state_code      TEXT NOT NULL REFERENCES states (state_code),
    credential_hash BLOB NOT NULL
);

CREATE TABLE voter_ids (
    voter_id TEXT PRIMARY KEY,
    voter_no INTEGER NOT NULL
) WITHOUT ROWID;

-- printf('V%09d', n + 1) is voter.ID(n): "V" and n+1 in at least nine digits.
INSERT INTO voters_by_number (voter_no, voter_id, constituency_id, state_code, credential_hash)
SELECT voter_no, CASE WHEN voter_id = printf('V%09d', voter_no + 1) THEN NULL ELSE voter_id END,
       constituency_id, state_code, credential_hash
FROM voters ORDER BY voter_no;

INSERT INTO voter_ids (voter_id, voter_no)
SELECT voter_id, voter_no FROM voters WHERE voter_id <> printf('V%09d', voter_no + 1);

DROP TABLE voters;

ALTER TABLE voters_by_number RENAME TO voters;
