ALTER TABLE items ADD COLUMN note text;
CREATE INDEX items_note_idx ON items (note);
