-- A voter's credential hash is kept as the first 16 bytes of the credential's SHA-256 (HashCredential),
-- not all 32.
--
-- Why: the register of voters is what every cast reads, and at 100M voters its 32-byte hashes were 3.2 GB
-- of its 7.2 GB. Sixteen bytes are still 128 bits: finding a credential that matches a stored hash takes
-- about 2^128 tries (and a synthetic credential has 120 random bits of its own), so nobody who reads the
-- ledger can cast as a voter with what is stored. A hash two voters share does no harm: each cast is
-- checked against its own voter's hash only.
UPDATE voters SET credential_hash = substring(credential_hash FROM 1 FOR 16);
