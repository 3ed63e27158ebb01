-- The voters table narrows to what casting reads, as on SQLite (see sqlite/004_narrow_voters.sql): id,
-- number, constituency, state and the credential hash as its 32 bytes. The tutorial's descriptive fields
-- move to voter_details, kept for voters imported from a CSV; synthetic voters' come again from the
-- generator. A narrow row is about a third of the wide one, so more of the register stays in memory for
-- the lookups every cast makes.
CREATE TABLE voter_details (
    voter_no            BIGINT PRIMARY KEY,
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
    voter_no        BIGINT NOT NULL,
    constituency_id TEXT NOT NULL REFERENCES constituencies (constituency_id),
    state_code      TEXT NOT NULL REFERENCES states (state_code),
    credential_hash BYTEA NOT NULL
);

INSERT INTO voters_narrow (voter_id, voter_no, constituency_id, state_code, credential_hash)
SELECT voter_id, voter_no, constituency_id, address_state, decode(credential_hash, 'hex') FROM voters;

DROP TABLE voters;

ALTER TABLE voters_narrow RENAME TO voters;

ALTER INDEX voters_narrow_pkey RENAME TO voters_pkey;
