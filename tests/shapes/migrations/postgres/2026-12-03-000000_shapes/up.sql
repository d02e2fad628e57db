CREATE TABLE accounts (
    id SERIAL PRIMARY KEY,
    handle TEXT NOT NULL UNIQUE,
    verified BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT now(),
    api_token TEXT NOT NULL
);
CREATE TABLE teams (
    id SERIAL PRIMARY KEY,
    title TEXT NOT NULL
);
CREATE TABLE crates (
    crate_pk SERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    published_by INTEGER NOT NULL REFERENCES accounts (id)
);
CREATE TABLE versions (
    id SERIAL PRIMARY KEY,
    crate_id INTEGER NOT NULL REFERENCES crates (crate_pk),
    num TEXT NOT NULL,
    yanked BOOLEAN NOT NULL
);
CREATE TABLE crate_owners (
    crate_id INTEGER NOT NULL REFERENCES crates (crate_pk),
    owner_id INTEGER NOT NULL,
    owner_kind SMALLINT NOT NULL,
    PRIMARY KEY (crate_id, owner_id, owner_kind)
);
CREATE TABLE feature_flags (
    name TEXT PRIMARY KEY,
    enabled BOOLEAN NOT NULL
);
