CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTO_INCREMENT,
    email VARCHAR(255) NOT NULL,
    username VARCHAR(255) NOT NULL,
    first_name VARCHAR(255) NOT NULL,
    last_name VARCHAR(255) NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    is_staff BOOLEAN NOT NULL DEFAULT FALSE,
    role VARCHAR(64) NOT NULL DEFAULT 'customer',
    CONSTRAINT users_email_key UNIQUE (email)
) ENGINE = InnoDB;

CREATE TABLE products (
    id INTEGER PRIMARY KEY AUTO_INCREMENT,
    name VARCHAR(255) NOT NULL,
    price_cents INTEGER NOT NULL,
    stock INTEGER NOT NULL,
    category VARCHAR(64) NOT NULL,
    CONSTRAINT products_name_key UNIQUE (name),
    CONSTRAINT price_positive CHECK (price_cents > 0),
    CONSTRAINT stock_not_negative CHECK (stock >= 0)
) ENGINE = InnoDB;

CREATE TABLE orders (
    id INTEGER PRIMARY KEY AUTO_INCREMENT,
    user_id INTEGER NOT NULL,
    status VARCHAR(32) NOT NULL,
    total_cents INTEGER NOT NULL,
    CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT total_not_negative CHECK (total_cents >= 0)
) ENGINE = InnoDB;

CREATE TABLE order_items (
    order_id INTEGER NOT NULL,
    product_id INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    PRIMARY KEY (order_id, product_id),
    FOREIGN KEY (order_id) REFERENCES orders (id),
    FOREIGN KEY (product_id) REFERENCES products (id),
    CHECK (quantity > 0)
) ENGINE = InnoDB;

CREATE TABLE reviews (
    id INTEGER PRIMARY KEY AUTO_INCREMENT,
    product_id INTEGER NOT NULL,
    author_id INTEGER NOT NULL,
    reviewer_id INTEGER,
    rating INTEGER NOT NULL,
    body TEXT,
    FOREIGN KEY (product_id) REFERENCES products (id),
    FOREIGN KEY (author_id) REFERENCES users (id),
    FOREIGN KEY (reviewer_id) REFERENCES users (id),
    CHECK (rating BETWEEN 1 AND 5)
) ENGINE = InnoDB;

-- Labels for products; its NOT NULL label lets tests provoke a not-null violation.
CREATE TABLE tags (
    id INTEGER PRIMARY KEY AUTO_INCREMENT,
    name VARCHAR(255) NOT NULL,
    label VARCHAR(255) NOT NULL,
    CONSTRAINT tags_name_key UNIQUE (name)
);
