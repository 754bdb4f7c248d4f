DROP INDEX items_note_idx;
ALTER TABLE items DROP COLUMN note;
