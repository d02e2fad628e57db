DROP TABLE api_keys;
DROP TABLE ledger_entries;
