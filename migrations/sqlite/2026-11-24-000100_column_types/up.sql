CREATE TABLE ledger_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    amount NUMERIC NOT NULL,
    booked_at TIMESTAMP NOT NULL,
    settled_at TIMESTAMP,
    meta TEXT NOT NULL,
    note TEXT
);
