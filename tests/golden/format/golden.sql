-- golden.sql - the awkward values behind tests/golden/format/*.
-- Run by regen.sh in a throwaway PostgreSQL 15 cluster; the rows must stay
-- in sync with the table in tests/unit/test_format.c (same values, as
-- PostgreSQL's text output).
SET client_encoding = 'UTF8';
SET DateStyle = 'ISO';
SET TimeZone = 'UTC';
SET extra_float_digits = 1;

CREATE TABLE golden (
	id int4 PRIMARY KEY,
	txt text,
	num numeric,
	flt float8,
	flag bool,
	doc jsonb,
	ts timestamptz,
	tsn timestamp,
	"odd, ""name""" text
);

INSERT INTO golden VALUES
 (1, 'hello', 42, 1.5, true, '{"a": 1}', '2024-01-02 03:04:05.123456+00', '2024-01-02 03:04:05.5', 'x'),
 (2, 'a,b', 'NaN', 'NaN', false, '[1, "two", null]', '2024-01-02 03:04:05+00', '2024-01-02 03:04:05', ''),
 (3, 'say "hi"', -0.0, '-0', true, '"str"', '2024-02-29 23:59:59.5+00', '2024-02-29 23:59:59.000001', '"'),
 (4, E'cr\rhere', 1e-7, 1e-7, false, 'null', 'infinity', 'infinity', ','),
 (5, E'line1\nline2', 'Infinity', 'Infinity', true, '{"k": "v,\"q\"\n"}', '-infinity', '-infinity', E'\n'),
 (6, E'crlf\r\nend', '-Infinity', '-Infinity', NULL, '{}', '0044-03-15 00:00:00 BC', '0044-03-15 12:00:00.25 BC', E'\r'),
 (7, 'é 漢字 😀', 123456789012345678901234567890.123456789, 1e300, true, '{"é": "漢字 😀"}', '10000-01-01 00:00:00+00', '1999-12-31 23:59:59.999999', 'ünïcödé'),
 (8, '=SUM(A1:A2)', -1, -1.25e-10, false, '[]', '1970-01-01 00:00:00+00', '1970-01-01 00:00:00', '+cmd'),
 (9, '@import', 0, 0.1::float8 + 0.2::float8, true, '0', '2000-01-01 00:00:00.1+00', '2000-01-01 00:00:00.12', '-2'),
 (10, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (11, '', 0.000, 0, false, '""', '2024-01-02 03:04:05.1+00', '2024-01-02 03:04:05.123', ''),
 (12, E'\\.', 100, 100, true, '"\\."', '2024-01-02 03:04:05.12+00', '2024-01-02 03:04:05.1234', E'\\.'),
 (13, '  padded  ', 1.10, 1e-5, false, '"  padded  "', '2024-01-02 03:04:05.1234+00', '2024-01-02 03:04:05.12345', ' '),
 (14, E'C:\\dir\\file', 99999999999999999999, 1e15, true, '{"path": "C:\\\\dir"}', '2024-01-02 03:04:05.12345+00', '2024-01-02 03:04:05.123456', E'\\N'),
 (15, E'tab\there', 1e20, 1e16, false, E'"tab\\t"', '1999-12-31 23:59:59.999999+00', '0001-01-01 00:00:00', E'\t'),
 (16, E'ctl\x01\x1f\x7f', -123.456, -1.5e-300, true, '[true, false]', '4713-11-24 00:00:00 BC', '4713-01-01 00:00:00 BC', E'bell\x07'),
 (17, '"', 1.0e-20, 3.4028235e38, false, '{"a": {"b": [1, 2.5, "c"]}}', '0001-01-01 00:00:00+00', '2024-01-02 03:04:05', '""'),
 (18, ',', 2.50, 2.5, true, '"\u0001x"', '2024-06-30 12:00:00+00', '2024-06-30 12:00:00', 'a"b,c' || E'\r\n' || 'd');

-- One column: PostgreSQL quotes a lone \. only when it is the sole column
-- (it would read as the end-of-data marker); the header follows the rule too.
CREATE TABLE single (id int4 PRIMARY KEY, "\." text);
INSERT INTO single VALUES
 (1, E'\\.'),
 (2, NULL),
 (3, ''),
 (4, 'a,b'),
 (5, E' \\.'),
 (6, E'\\.x'),
 (7, 'plain');

-- Instants for the job time zone (csv.c/jsonl.c zoned columns): golden's
-- timestamptz values plus DST changes (Europe/Paris, America/New_York),
-- LMT and historic offsets, dates past 2037 (the zone's rule), far years.
CREATE TABLE zoned (id serial PRIMARY KEY, ts timestamptz);
INSERT INTO zoned (ts) SELECT ts FROM golden ORDER BY id;
INSERT INTO zoned (ts) SELECT generate_series(timestamptz '2024-03-31 00:00:00.25+00',
    '2024-03-31 02:00:00+00', '15 minutes');
INSERT INTO zoned (ts) SELECT generate_series(timestamptz '2024-10-27 00:00:00+00',
    '2024-10-27 02:00:00+00', '15 minutes');
INSERT INTO zoned (ts) SELECT generate_series(timestamptz '2024-03-10 06:00:00+00',
    '2024-03-10 08:00:00+00', '30 minutes');
INSERT INTO zoned (ts) SELECT generate_series(timestamptz '2024-11-03 05:00:00+00',
    '2024-11-03 07:00:00+00', '30 minutes');
INSERT INTO zoned (ts) VALUES ('1800-01-01 00:00:00+00'), ('1883-11-18 17:00:00+00'),
 ('1900-01-01 00:00:00+00'), ('1911-03-10 23:50:00+00'), ('1942-09-01 12:00:00+00'),
 ('1945-10-15 00:00:00+00'), ('1969-12-31 23:59:59.999999+00'), ('1970-01-01 00:00:00+00'),
 ('2038-01-19 03:14:08+00'), ('2040-07-01 12:00:00+00'), ('2100-01-01 00:00:00+00'),
 ('9999-12-31 23:59:59.999999+00'), ('294276-12-31 23:59:59.999999+00'),
 ('4713-11-24 00:00:00+00 BC'), ('0001-12-31 23:30:00+00 BC');
