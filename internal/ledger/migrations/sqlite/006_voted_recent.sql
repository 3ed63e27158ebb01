-- Voters marked since the last fold, by number: a batch adds its voters here, and once this holds 65,536
-- or more, the batch that finds it so folds them into the bitmap (voted_blocks) in its own transaction
-- and empties it (see voted.go).
--
-- Why: voters turn up in random order, so once the bitmap has far more pages than a batch has ballots,
-- each ballot's bit lands on a page of its own, and every commit wrote those pages to the WAL (and the
-- checkpoint wrote them again). At 100M voters the bitmap is 6,750 pages, and `election up` wrote 10.3 KB
-- a ballot to disk and waited on it (10.7k-17.5k ballots/s, the disk busy, a quarter to a third of the
-- CPU idle). This table stays small (65,536 numbers, an estimated 200 pages), so a batch dirties a few
-- hundred pages at most, and the bitmap's pages are written once per fold rather than once per batch.
-- With it, the 100M run wrote 1.8 KB a ballot and cast 28.7k ballots/s.
--
-- WITHOUT ROWID, keyed by number: the rows are stored in number order, so, like the bitmap, the table
-- keeps no time and no order of voting. It holds which voters voted since the last fold, which two
-- copies of the bitmap taken at those moments would tell as well.
CREATE TABLE voted_recent (
    voter_no INTEGER PRIMARY KEY
) WITHOUT ROWID;
