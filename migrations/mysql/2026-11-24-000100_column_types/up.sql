CREATE TABLE ledger_entries (
    id BIGINT PRIMARY KEY AUTO_INCREMENT,
    kind VARCHAR(16) NOT NULL,
    amount DECIMAL(12, 2) NOT NULL,
    booked_at DATETIME(6) NOT NULL,
    settled_at DATETIME(6),
    meta JSON NOT NULL,
    note TEXT
) ENGINE = InnoDB;
