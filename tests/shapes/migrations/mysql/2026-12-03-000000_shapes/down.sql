DROP TABLE feature_flags;
DROP TABLE crate_owners;
DROP TABLE versions;
DROP TABLE crates;
DROP TABLE teams;
DROP TABLE accounts;
