CREATE TABLE ledger_entries (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    amount NUMERIC(12, 2) NOT NULL,
    booked_at TIMESTAMP NOT NULL,
    settled_at TIMESTAMP,
    meta JSON NOT NULL,
    note TEXT
);

-- UUID keys: one the database assigns, one the factory makes.
CREATE TABLE api_keys (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    token UUID NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL DEFAULT now()
);
