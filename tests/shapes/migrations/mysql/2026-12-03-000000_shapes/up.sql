CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTO_INCREMENT,
    handle VARCHAR(255) NOT NULL UNIQUE,
    verified BOOLEAN NOT NULL,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    api_token TEXT NOT NULL
);
CREATE TABLE teams (
    id INTEGER PRIMARY KEY AUTO_INCREMENT,
    title TEXT NOT NULL
);
CREATE TABLE crates (
    crate_pk INTEGER PRIMARY KEY AUTO_INCREMENT,
    name VARCHAR(255) NOT NULL UNIQUE,
    published_by INTEGER NOT NULL,
    FOREIGN KEY (published_by) REFERENCES accounts (id)
);
CREATE TABLE versions (
    id INTEGER PRIMARY KEY AUTO_INCREMENT,
    crate_id INTEGER NOT NULL,
    num TEXT NOT NULL,
    yanked BOOLEAN NOT NULL,
    FOREIGN KEY (crate_id) REFERENCES crates (crate_pk)
);
CREATE TABLE crate_owners (
    crate_id INTEGER NOT NULL,
    owner_id INTEGER NOT NULL,
    owner_kind SMALLINT NOT NULL,
    PRIMARY KEY (crate_id, owner_id, owner_kind),
    FOREIGN KEY (crate_id) REFERENCES crates (crate_pk)
);
CREATE TABLE feature_flags (
    name VARCHAR(64) PRIMARY KEY,
    enabled BOOLEAN NOT NULL
);
