-- The ledger: who may vote, who has voted, and the ballots cast, with no link between the last two.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE parties (
    party_id TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    short    TEXT NOT NULL,
    colour   TEXT NOT NULL
);

CREATE TABLE states (
    state_code TEXT PRIMARY KEY,
    name       TEXT NOT NULL
);

CREATE TABLE constituencies (
    constituency_id TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    state_code      TEXT REFERENCES states (state_code)
);

-- The tutorial's table, with the constituency a candidate stands in.
CREATE TABLE candidates (
    candidate_id      TEXT PRIMARY KEY,
    candidate_name    TEXT NOT NULL,
    party_affiliation TEXT NOT NULL REFERENCES parties (party_id),
    constituency_id   TEXT NOT NULL REFERENCES constituencies (constituency_id),
    biography         TEXT NOT NULL,
    campaign_platform TEXT NOT NULL,
    photo_url         TEXT NOT NULL
);

-- The tutorial's table, plus the voter's constituency, a hash of their credential, and whether they have
-- voted. No time of voting is kept: it would link a voter to a ballot.
CREATE TABLE voters (
    voter_id            TEXT PRIMARY KEY,
    voter_name          TEXT NOT NULL,
    date_of_birth       TEXT NOT NULL,
    gender              TEXT NOT NULL,
    nationality         TEXT NOT NULL,
    registration_number TEXT NOT NULL,
    address_street      TEXT NOT NULL,
    address_city        TEXT NOT NULL,
    address_state       TEXT NOT NULL REFERENCES states (state_code),
    address_country     TEXT NOT NULL,
    address_postcode    TEXT NOT NULL,
    email               TEXT NOT NULL,
    phone_number        TEXT NOT NULL,
    cell_number         TEXT NOT NULL,
    picture             TEXT NOT NULL,
    registered_age      INTEGER NOT NULL,
    constituency_id     TEXT NOT NULL REFERENCES constituencies (constituency_id),
    credential_hash     TEXT NOT NULL,
    has_voted           BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE registered (
    constituency_id TEXT NOT NULL,
    state_code      TEXT NOT NULL,
    voters          BIGINT NOT NULL,
    PRIMARY KEY (constituency_id, state_code)
);

-- Ballots carry no voter identity. Sequence values can commit out of order when several writers insert at
-- once, so the relay reads by (txid, seq) and only below the oldest transaction still running (see the
-- relay package): txid is the inserting transaction's 64-bit id. ballot_id is 122 random bits and is
-- deliberately not indexed (see the SQLite migration).
CREATE TABLE ballots (
    seq             BIGSERIAL PRIMARY KEY,
    txid            XID8 NOT NULL DEFAULT pg_current_xact_id(),
    ballot_id       TEXT NOT NULL,
    candidate_id    TEXT NOT NULL REFERENCES candidates (candidate_id),
    constituency_id TEXT NOT NULL,
    state_code      TEXT NOT NULL,
    cast_minute     TEXT NOT NULL
);
CREATE INDEX ballots_position ON ballots (txid, seq);
