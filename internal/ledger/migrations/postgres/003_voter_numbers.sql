-- Each voter gets a number at registration, counted by the meta key voters_numbered, as on SQLite, where
-- it places the voter's bit in the voted bitmap (see sqlite/003_voted_bits.sql). PostgreSQL keeps its
-- voted table (see voted.go for why); the numbers keep registration one code path.
ALTER TABLE voters ADD COLUMN voter_no BIGINT NOT NULL DEFAULT -1;

UPDATE voters SET voter_no = n.no
FROM (SELECT voter_id, row_number() OVER (ORDER BY voter_id) - 1 AS no FROM voters) AS n
WHERE voters.voter_id = n.voter_id;

ALTER TABLE voters ALTER COLUMN voter_no DROP DEFAULT;

INSERT INTO meta (key, value) SELECT 'voters_numbered', CAST(COALESCE(MAX(voter_no) + 1, 0) AS TEXT) FROM voters;
