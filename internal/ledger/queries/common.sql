-- Queries shared by SQLite and PostgreSQL. Placeholders are $1, $2, ...; the SQLite dialect rewrites
-- them to ?1, ?2, .... A "-- name:" line starts each query; dialect files override by name.

-- name: GetMeta
SELECT value FROM meta WHERE key = $1;

-- name: PutMeta
INSERT INTO meta (key, value) VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE SET value = excluded.value;

-- name: InsertMetaIfAbsent
-- Two processes may race to set the same key: the first wins, and both then read what it wrote.
INSERT INTO meta (key, value) VALUES ($1, $2)
ON CONFLICT (key) DO NOTHING;

-- name: InsertParty
INSERT INTO parties (party_id, name, short, colour) VALUES ($1, $2, $3, $4);

-- name: InsertState
INSERT INTO states (state_code, name) VALUES ($1, $2);

-- name: InsertConstituency
INSERT INTO constituencies (constituency_id, name, state_code) VALUES ($1, $2, $3);

-- name: InsertCandidate
INSERT INTO candidates (candidate_id, candidate_name, party_affiliation, constituency_id, biography,
                        campaign_platform, photo_url)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: InsertVoters
-- What casting reads of a voter. /*rows*/ becomes the VALUES rows, one per voter, 5 columns each. On
-- SQLite voter_id is NULL when the voter's number gives it (008_register_by_number.sql).
INSERT INTO voters (voter_id, voter_no, constituency_id, state_code, credential_hash) VALUES /*rows*/;

-- name: InsertVoterDetails
-- The tutorial's fields of a voter imported from a CSV (synthetic voters keep none: the generator gives
-- them again). /*rows*/ becomes the VALUES rows, one per voter, 15 columns each.
INSERT INTO voter_details (voter_no, voter_name, date_of_birth, gender, nationality, registration_number,
                           address_street, address_city, address_country, address_postcode, email,
                           phone_number, cell_number, picture, registered_age)
VALUES /*rows*/;

-- name: NumberVoters
-- Takes $2 voter numbers: returns the counter after them, so the batch's numbers are value-$2 .. value-1.
-- Two registrations at once on PostgreSQL serialise on the meta row, so no number is given twice. The
-- key is created (at 0) by InsertMetaIfAbsent first.
UPDATE meta SET value = CAST(CAST(value AS BIGINT) + $2 AS TEXT) WHERE key = $1
RETURNING value;

-- name: AddRegistered
-- /*rows*/ becomes (constituency, state, voters) rows, each region once (a key twice in one statement
-- would fail on PostgreSQL).
INSERT INTO registered (constituency_id, state_code, voters) VALUES /*rows*/
ON CONFLICT (constituency_id, state_code) DO UPDATE SET voters = registered.voters + excluded.voters;

-- name: Registered
SELECT constituency_id, state_code, voters FROM registered;

-- name: InsertBallots
-- /*rows*/ becomes the VALUES rows, one per ballot, 5 columns each.
INSERT INTO ballots (ballot_id, candidate_id, constituency_id, state_code, cast_minute) VALUES /*rows*/;

-- name: CountBallots
SELECT COUNT(*) FROM ballots;

-- name: BallotsPerCandidate
SELECT candidate_id, COUNT(*) FROM ballots GROUP BY candidate_id;

-- name: BallotsPerState
SELECT state_code, COUNT(*) FROM ballots GROUP BY state_code;
