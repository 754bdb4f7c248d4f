CREATE TABLE items (
  id serial PRIMARY KEY,
  created timestamptz NOT NULL DEFAULT now()
);
