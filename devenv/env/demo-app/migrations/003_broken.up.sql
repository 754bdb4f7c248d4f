-- no-transaction: each statement commits on its own, so the first one stays applied
-- when the second fails, leaving the database half migrated (what a snapshot rollback is for).
ALTER TABLE items ADD COLUMN broken boolean;
SELECT 1 / 0;
