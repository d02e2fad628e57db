CREATE TABLE users (
    id SERIAL PRIMARY KEY,
    email TEXT NOT NULL CONSTRAINT users_email_key UNIQUE,
    username TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    is_staff BOOLEAN NOT NULL DEFAULT FALSE,
    role TEXT NOT NULL DEFAULT 'customer'
);

CREATE TABLE products (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL CONSTRAINT products_name_key UNIQUE,
    price_cents INTEGER NOT NULL CONSTRAINT price_positive CHECK (price_cents > 0),
    stock INTEGER NOT NULL CONSTRAINT stock_not_negative CHECK (stock >= 0),
    category TEXT NOT NULL
);

CREATE TABLE orders (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL CONSTRAINT orders_user_id_fkey REFERENCES users (id),
    status TEXT NOT NULL,
    total_cents INTEGER NOT NULL CONSTRAINT total_not_negative CHECK (total_cents >= 0)
);

CREATE TABLE order_items (
    order_id INTEGER NOT NULL REFERENCES orders (id),
    product_id INTEGER NOT NULL REFERENCES products (id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, product_id)
);

CREATE TABLE reviews (
    id SERIAL PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products (id),
    author_id INTEGER NOT NULL REFERENCES users (id),
    reviewer_id INTEGER REFERENCES users (id),
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body TEXT
);

-- Labels for products; its NOT NULL label lets tests provoke a not-null violation.
CREATE TABLE tags (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    CONSTRAINT tags_name_key UNIQUE (name)
);
