-- The voters table narrows to what casting reads: the voter's id, number, constituency, state and
-- credential hash. The tutorial's descriptive fields (name, date of birth, address, ...) move to
-- voter_details, which casting never reads.
--
-- Why: every cast looks its voters up by id. The wide row (the tutorial's fields, a 64-character hex hash,
-- about 257 bytes at 1M voters) plus an index on its text key (22 bytes a voter) made the register of
-- voters 280 bytes a voter: 28 GB at 100M voters, more than this machine's memory, so a lookup would read
-- from disk. WITHOUT ROWID stores the narrow row in the key's own B-tree (one descent, no separate
-- index), and the hash is its 32 bytes, not 64 hex characters.
--
-- Synthetic voters keep no details: the generator gives each again from the election's seed and the
-- voter's number (voters_topic publishes them). Voters imported from a CSV keep theirs here, keyed by
-- voter number. Neither table keeps a time or the order of voting.
CREATE TABLE voter_details (
    voter_no            INTEGER PRIMARY KEY,
    voter_name          TEXT NOT NULL,
    date_of_birth       TEXT NOT NULL,
    gender              TEXT NOT NULL,
    nationality         TEXT NOT NULL,
    registration_number TEXT NOT NULL,
    address_street      TEXT NOT NULL,
    address_city        TEXT NOT NULL,
    address_country     TEXT NOT NULL,
    address_postcode    TEXT NOT NULL,
    email               TEXT NOT NULL,
    phone_number        TEXT NOT NULL,
    cell_number         TEXT NOT NULL,
    picture             TEXT NOT NULL,
    registered_age      INTEGER NOT NULL
);

INSERT INTO voter_details
SELECT voter_no, voter_name, date_of_birth, gender, nationality, registration_number, address_street,
       address_city, address_country, address_postcode, email, phone_number, cell_number, picture,
       registered_age
FROM voters;

CREATE TABLE voters_narrow (
    voter_id        TEXT PRIMARY KEY,
    voter_no        INTEGER NOT NULL,
    constituency_id TEXT NOT NULL REFERENCES constituencies (constituency_id),
    state_code      TEXT NOT NULL REFERENCES states (state_code),
    credential_hash BLOB NOT NULL
) WITHOUT ROWID;

INSERT INTO voters_narrow (voter_id, voter_no, constituency_id, state_code, credential_hash)
SELECT voter_id, voter_no, constituency_id, address_state, unhex(credential_hash) FROM voters;

DROP TABLE voters;

ALTER TABLE voters_narrow RENAME TO voters;
