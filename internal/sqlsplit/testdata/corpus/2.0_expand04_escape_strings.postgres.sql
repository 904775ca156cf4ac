CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

INSERT INTO settings (key, value) VALUES
    ('export_dir',  E'C:\\tandem\\exports'),
    ('greeting',    E'it\'s done;\nsee you'),
    ('raw_path',    'C:\tandem\raw'),
    ('quote_style', 'it''s; fine');

COMMENT ON COLUMN settings.value IS E'free text; may hold \'quotes\' and \\backslashes';

UPDATE settings SET value = e'tab\there' WHERE key = 'greeting';
