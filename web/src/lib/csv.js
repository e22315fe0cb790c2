// CSV in the panel: records of a file the user picked (RFC 4180, as the server's base/csv.c
// reads it: quoted fields with "" for a quote, CRLF or LF, a leading BOM dropped), used to show
// each problem of an import next to the record it names; and the writing of one CSV line.

// The records of text (arrays of strings), at most maxRecords; a record's number on the
// server is its index + 1 (the header is record 1). Never throws: an unterminated quote
// ends the last record at the end of the text.
export function parseCsv(text, maxRecords = 100000) {
  const s = String(text || '').replace(/^\uFEFF/, '');
  const out = [];
  let rec = [];
  let field = '';
  let i = 0;
  let quoted = false;
  let any = false; // something seen since the last record ended
  while (i < s.length && out.length < maxRecords) {
    const ch = s[i];
    if (quoted) {
      if (ch === '"' && s[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else field += ch;
      i++;
      continue;
    }
    if (ch === '"') {
      quoted = true;
      any = true;
    } else if (ch === ',') {
      rec.push(field);
      field = '';
      any = true;
    } else if (ch === '\r' || ch === '\n') {
      if (ch === '\r' && s[i + 1] === '\n') i++;
      rec.push(field);
      out.push(rec);
      rec = [];
      field = '';
      any = false;
    } else {
      field += ch;
      any = true;
    }
    i++;
  }
  if (any && out.length < maxRecords) {
    rec.push(field);
    out.push(rec);
  }
  return out;
}

// One CSV line (CRLF-terminated) of values; a field with a comma, quote or line break is
// quoted. Values are written as they are (a token must survive the round trip exactly).
export function csvLine(values) {
  return (
    values
      .map((v) => {
        const t = v == null ? '' : String(v);
        return /[",\r\n]/.test(t) ? `"${t.replaceAll('"', '""')}"` : t;
      })
      .join(',') + '\r\n'
  );
}

// The problems [{row, field, issue}] grouped by row (ascending), as [{row, problems}].
export function problemsByRow(details) {
  const m = new Map();
  for (const d of details || []) {
    const row = Number(d && d.row) || 0;
    if (!m.has(row)) m.set(row, []);
    m.get(row).push(d);
  }
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([row, problems]) => ({ row, problems }));
}
