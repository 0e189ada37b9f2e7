#!/usr/bin/node
// The seeds' own way of exporting a table to CSV, as the Node.js guides show
// it: a pg-query-stream cursor piped through a csv-stringify transform into
// a file.  scripts/bench (bench/bench.py) runs it as reference (n) beside
// psql \copy and exportd, on the same rows as its plain psql reference:
//
//   PGHOST=/socket/dir PGPORT=5432 PGDATABASE=db PGUSER=user \
//   node export.js [--schema public] --table contacts --key id --workspace-column workspace
//                  --workspace bench --deleted-column deleted_at
//                  --columns id,workspace,... --out FILE [--batch-size 100]
//
// The connection comes from the PG* variables, as pg's Client reads them
// (PGHOST may be a Unix socket directory).  The workspace is a query
// parameter; the identifiers are quoted.  Dates and timestamps are written
// as ISO 8601 (toISOString), the rest as csv-stringify casts it.  Prints one
// JSON line on stdout when done: {"rows": N, "bytes": B}.
'use strict';

const fs = require('node:fs');
const { pipeline } = require('node:stream/promises');
const { Client } = require('pg');
const QueryStream = require('pg-query-stream');
const { stringify } = require('csv-stringify');

function parseArgs(argv) {
  const want = ['table', 'key', 'workspace-column', 'workspace', 'columns', 'out'];
  const args = { schema: '', 'deleted-column': '', 'batch-size': '100' };
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) {
      throw new Error('usage: export.js --' + want.join(' V --') + ' V');
    }
    args[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of want) {
    if (!args[k]) throw new Error('missing --' + k);
  }
  return args;
}

function ident(name) {
  return '"' + name.replace(/"/g, '""') + '"';
}

function selectText(a, columns) {
  let where = ident(a['workspace-column']) + ' = $1';
  if (a['deleted-column']) where += ' AND ' + ident(a['deleted-column']) + ' IS NULL';
  const from = (a.schema ? ident(a.schema) + '.' : '') + ident(a.table);
  return 'SELECT ' + columns.map(ident).join(', ') + ' FROM ' + from +
    ' WHERE ' + where + ' ORDER BY ' + ident(a.key);
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const columns = a.columns.split(',');
  const client = new Client({ application_name: 'bench-node-export' });
  await client.connect();
  try {
    const rows = client.query(new QueryStream(selectText(a, columns), [a.workspace],
      { batchSize: Number(a['batch-size']) }));
    const csv = stringify({
      header: true,
      columns,
      cast: { date: (d) => d.toISOString() },
    });
    await pipeline(rows, csv, fs.createWriteStream(a.out));
    process.stdout.write(JSON.stringify({ rows: csv.info.records,
      bytes: fs.statSync(a.out).size }) + '\n');
  } finally {
    await client.end();
  }
}

main().catch((err) => {
  process.stderr.write('export.js: ' + (err && err.stack ? err.stack : err) + '\n');
  process.exit(1);
});
