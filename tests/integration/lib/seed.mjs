// Bulk seeding for tests that need a large tenant: agents (a users row + an agent_status row +
// its open history row each) inserted straight into the server's SQLite file with the sqlite3
// CLI, in one transaction built by a recursive CTE. The schema's triggers log every row in
// `changes`, so a running server sees them like any other write. No passwords (those users
// cannot log in): hashing thousands of passwords one by one would dominate the test's time.
import { execFileSync } from 'node:child_process';

// Insert n agents into client clientId of the SQLite database at dbPath. tag (0..0xffffffff)
// makes the generated UUIDs unique per call. Agent i (1..n) is named `${namePrefix}${i padded
// to 4 digits}` with e-mail `${emailPrefix}${i padded}@${domain}`; ids come from agentId(tag, i)
// and userId(tag, i). Statuses cycle online, away, busy, offline from i = 1.
export function seedAgents(dbPath, { clientId, n, tag = 1, namePrefix = 'Agent ', emailPrefix = 'bulk', domain = 'bulk.test' }) {
  if (!Number.isInteger(n) || n < 1 || n > 100000) throw new Error(`seedAgents: bad n ${n}`);
  if (!/^[0-9a-f-]{36}$/.test(clientId)) throw new Error(`seedAgents: bad client id ${clientId}`);
  const t = tag.toString(16).padStart(8, '0');
  const lit = (s) => `'${String(s).replaceAll("'", "''")}'`;
  const pad = "substr('0000' || i, -max(4, length(i)))";
  const sql = `
.timeout 10000
.bail on
BEGIN IMMEDIATE;
CREATE TEMP TABLE seq_n(i INTEGER PRIMARY KEY);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${n})
INSERT INTO seq_n SELECT i FROM c;
INSERT INTO users (id, client_id, email, name, role, status)
  SELECT printf('${t}-0000-4000-8000-%012d', i), ${lit(clientId)},
         ${lit(emailPrefix)} || ${pad} || '@' || ${lit(domain)}, ${lit(namePrefix)} || ${pad}, 'agent', 'active'
  FROM seq_n;
INSERT INTO agent_status (id, client_id, user_id, display_name, status)
  SELECT printf('${t}-0000-4000-9000-%012d', i), ${lit(clientId)}, printf('${t}-0000-4000-8000-%012d', i),
         ${lit(namePrefix)} || ${pad},
         CASE i % 4 WHEN 1 THEN 'online' WHEN 2 THEN 'away' WHEN 3 THEN 'busy' ELSE 'offline' END
  FROM seq_n;
INSERT INTO agent_status_history (id, agent_id, client_id, status, changed_by)
  SELECT printf('${t}-0000-4000-a000-%012d', i), printf('${t}-0000-4000-9000-%012d', i), ${lit(clientId)},
         CASE i % 4 WHEN 1 THEN 'online' WHEN 2 THEN 'away' WHEN 3 THEN 'busy' ELSE 'offline' END, 'seed'
  FROM seq_n;
DROP TABLE seq_n;
COMMIT;
`;
  execFileSync('sqlite3', [dbPath], { input: sql, timeout: 60000, stdio: ['pipe', 'pipe', 'pipe'] });
}

export const agentId = (tag, i) => `${tag.toString(16).padStart(8, '0')}-0000-4000-9000-${String(i).padStart(12, '0')}`;
export const userId = (tag, i) => `${tag.toString(16).padStart(8, '0')}-0000-4000-8000-${String(i).padStart(12, '0')}`;
export const seedName = (i, namePrefix = 'Agent ') => `${namePrefix}${String(i).padStart(4, '0')}`;
