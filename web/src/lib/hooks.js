// Live data hooks: a list loaded by GET ({data, next_cursor, seq}) and kept current with a
// postgres_changes subscription on the same table, with optimistic edits and conflict
// handling. The named hooks at the bottom (useRealtimeAgentStatus, ...) mirror the original
// system's hooks; useRealtimeDashboardMetrics keeps the dashboard snapshot and the series of
// the last minutes; useStats re-fetches a statistics endpoint when its trigger changes; useNow
// is a shared ticking clock.
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, onToken, qs } from './api.js';
import { applyBatch, applyChange, mergeSnapshot, rowKey, serverOrder, upsertRow, withOverlay } from './merge.js';
import { openChannel, subscribeTable } from './realtime.js';
import { appendPoint, flagsOf, historyPoint, pointOf } from './series.js';
import { gridWindow } from './window.js';
import { createStore } from './store.js';
import { notify } from './notify.js';

// The open "changed by someone else" dialog, or null:
// {title, mine, theirs, keepTheirs(), overwrite()}.
export const conflict = createStore(null);

// A list loaded by GET and kept current by postgres_changes. Options:
//   path, params      the collection and its query (filters, q, sort); a change of either
//                     starts a new list (the subscription stays: it depends on table+filter)
//   table, filter     the realtime subscription
//   match(row)        whether a row belongs to the list (a row that stops matching leaves)
//   admit(row)        a further test for live rows not held yet (see admitFor)
//   sort(a, b)        display order; for a `paged` list it must be the server's order
//   pageSize          `limit` of each request
//   paged             server paging in display order: while pages remain, a live row not held
//                     is only taken when it sorts before the last held row (else it arrives
//                     with its page); a reload re-covers as many rows as were loaded
//   countBy           `count_by` of the list (e.g. status): `counts` per value
// Every list: loadMore() appends the next page (not while a reload is in flight); `total`
// (and `counts`) are the server's, re-read once per burst of live changes; live events are
// applied in bursts (see flush).
export function useLiveList({ path, params = {}, table, filter, match, admit, sort, pageSize, paged = false, countBy }) {
  const key = JSON.stringify([path, params]);
  const subKey = JSON.stringify([table, filter || '']);
  const [, setTick] = useState(0);
  const st = useRef(null);
  const channel = useRef('connecting');
  if (!st.current || st.current.key !== key) {
    st.current = {
      key,
      rows: [],
      sorted: null, // rows in display order, computed once per change of rows
      sortedFrom: null,
      overlay: new Map(),
      loading: true,
      loadingMore: false,
      error: null,
      cursor: null,
      total: null, // the server's count for the query (null until known)
      totalCapped: false, // the server stopped counting at total (the audit log): "at least"
      counts: null,
      log: [], // events received while a reload is in flight
      inflight: 0,
      reloadId: 0,
      countsTimer: null,
      countsId: 0,
      countsBusy: false, // a count request is in flight: the next one waits for it
      countsAgain: false, // changes arrived meanwhile: count once more after it
      pending: [], // live events not applied yet (see flush)
      flushTimer: null,
      changes: 0, // realtime events seen (matching or not) and reloads done: a stats trigger
    };
  }
  const s = st.current;
  const matchRef = useRef(match);
  matchRef.current = match;
  const sortRef = useRef(sort);
  sortRef.current = sort;
  const admitRef = useRef(admit);
  admitRef.current = admit;
  const rerender = useCallback(() => setTick((n) => n + 1), []);

  // The further test for live rows not held yet: `admit` (a search the client can only
  // approximate: a held row found by the server stays) and, for a paged list with pages still
  // to load, "sorts before the last held row" (else it arrives with its page). For rows and
  // cursor (those held, or a snapshot about to be).
  const admitFor = (rows, cursor) => {
    const ad = admitRef.current;
    const cmp = sortRef.current;
    const ranged = paged && cursor && cmp && rows.length;
    if (!ranged) return ad;
    const last = rows.reduce((a, b) => (cmp(a, b) >= 0 ? a : b));
    return (r) => (!ad || ad(r)) && cmp(r, last) < 0;
  };

  // A held row that moves from one count_by value to another (and still matches) moves one in
  // `counts` at once; the server's figures follow within a burst (refreshCounts).
  const shiftCount = (me) => (held, rec) => {
    if (!countBy || !me.counts || held[countBy] === rec[countBy] || rec[countBy] == null) return;
    const c = { ...me.counts };
    c[held[countBy]] = Math.max(0, (c[held[countBy]] || 0) - 1);
    c[rec[countBy]] = (c[rec[countBy]] || 0) + 1;
    me.counts = c;
  };

  // Live events are applied in bursts: collected for up to 50 ms, then one pass over the rows
  // and one render (a flood of thousands of changes, e.g. a bulk import, stays smooth).
  const flush = (me) => {
    me.flushTimer = null;
    const evs = me.pending;
    me.pending = [];
    if (st.current !== me || !evs.length) return;
    // Before the first page of a paged list, nothing is known of the order: new rows wait for
    // the page (the reload replays these events onto it).
    const ad = paged && me.loading ? () => false : admitFor(me.rows, me.cursor);
    me.rows = applyBatch(me.rows, evs, matchRef.current, ad, shiftCount(me));
    me.changes += evs.length;
    refreshCountsRef.current();
    rerender();
  };

  const fetchPage = (cursor, withCounts) => {
    const q = { ...params };
    if (pageSize) q.limit = pageSize;
    if (cursor) q.cursor = cursor;
    if (withCounts && countBy) q.count_by = countBy;
    return api('GET', path + qs(q));
  };

  const reload = useCallback(async () => {
    const me = st.current;
    const id = ++me.reloadId;
    const from = me.log.length;
    const want = paged ? Math.min(me.rows.length, 20000) : 0;
    me.inflight++;
    try {
      const body = await fetchPage(null, true);
      let data = (body && body.data) || [];
      let cursor = (body && body.next_cursor) || null;
      // Re-cover what was loaded before (a reconnect must not shrink the list under the user).
      for (let n = 0; paged && cursor && data.length < want && n < 100; n++) {
        const more = await fetchPage(cursor, false);
        if (st.current !== me || id !== me.reloadId) return;
        data = data.concat((more && more.data) || []);
        cursor = (more && more.next_cursor) || null;
      }
      if (st.current !== me || id !== me.reloadId) return;
      me.cursor = cursor;
      me.rows = mergeSnapshot(data, me.log.slice(from), matchRef.current, admitFor(data, cursor));
      me.total = body && typeof body.total === 'number' ? body.total : null;
      me.totalCapped = !!(body && body.total_capped);
      me.counts = (body && body.counts) || null;
      me.error = null;
      me.changes++;
    } catch (err) {
      if (st.current === me && id === me.reloadId) me.error = err;
    } finally {
      me.inflight--;
      if (me.inflight === 0) me.log = [];
      if (st.current === me) {
        me.loading = false;
        rerender();
      }
    }
  }, [key]);
  const reloadRef = useRef(reload);
  reloadRef.current = reload;

  const loadMore = useCallback(async () => {
    const me = st.current;
    // Not while a reload is in flight: it replaces the rows and the cursor (a page appended
    // meanwhile would be lost or continue from a stale cursor).
    if (!me.cursor || me.loadingMore || me.inflight > 0) return;
    const id = me.reloadId;
    me.loadingMore = true;
    rerender();
    try {
      const body = await fetchPage(me.cursor, false);
      if (st.current !== me || id !== me.reloadId) return;
      let rows = me.rows;
      for (const r of body.data || []) rows = upsertRow(rows, r, matchRef.current);
      me.rows = rows;
      me.cursor = body.next_cursor || null;
    } catch (err) {
      if (st.current === me) me.error = err;
    } finally {
      me.loadingMore = false;
      if (st.current === me) rerender();
    }
  }, [key]);

  // total and counts again, once per burst of live changes (the rows themselves are live).
  // One count request at a time: changes during one ask for one more after it, so a slow
  // count (a large table) is not started again every burst while the last still runs.
  const refreshCounts = useCallback(() => {
    const me = st.current;
    if (me.total == null || me.countsTimer) return;
    if (me.countsBusy) {
      me.countsAgain = true;
      return;
    }
    me.countsTimer = setTimeout(async () => {
      me.countsTimer = null;
      me.countsBusy = true;
      const id = ++me.countsId;
      try {
        const q = { ...params, limit: 1 };
        if (countBy) q.count_by = countBy;
        const body = await api('GET', path + qs(q));
        if (st.current !== me || id !== me.countsId || typeof body.total !== 'number') return;
        me.total = body.total;
        me.totalCapped = !!body.total_capped;
        me.counts = body.counts || null;
        rerender();
      } catch {
        /* the next change or reload tries again */
      } finally {
        me.countsBusy = false;
        if (me.countsAgain && st.current === me) {
          me.countsAgain = false;
          refreshCounts();
        }
      }
    }, 400);
  }, [key]);

  useEffect(() => {
    reload();
    const me = st.current;
    return () => {
      clearTimeout(me.countsTimer);
      me.countsTimer = null;
      clearTimeout(me.flushTimer);
      me.flushTimer = null;
      me.pending = [];
    };
  }, [key]);

  useEffect(() => {
    if (!table) return undefined;
    return subscribeTable(
      { table, filter },
      (ev) => {
        const me = st.current;
        if (me.inflight > 0) me.log.push(ev);
        me.pending.push(ev);
        if (!me.flushTimer) me.flushTimer = setTimeout(() => flush(me), 50);
      },
      (status) => {
        channel.current = status;
        // After every (re)join, fetch again: changes made while disconnected appear, and the
        // first fetch may have raced the subscription.
        if (status === 'SUBSCRIBED') reloadRef.current();
        rerender();
      }
    );
  }, [subKey]);
  const refreshCountsRef = useRef(refreshCounts);
  refreshCountsRef.current = refreshCounts;

  // Optimistic edit: shows `patch` at once; `send(patch, ifMatchVersion)` must resolve to the
  // updated row. Errors roll back; a 409 opens the conflict dialog. `baseVersion` is the
  // version the user's edit started from (an edit form opened earlier); without it the row's
  // current version is used (a one-click change such as a status select). `opts.handled(err)`
  // returning true takes a failure over (no toast; e.g. a form showing a 422 at its fields);
  // `opts.beforeConflict()` runs just before the conflict dialog opens (an edit form closes);
  // `opts.returnFocus()` names the element to focus when the dialog closes, if the one focused
  // before it is gone.
  const optimistic = useCallback(
    async (id, patch, send, label, baseVersion, opts = {}) => {
      const me = st.current;
      const k = String(id);
      const held = me.rows.find((r) => rowKey(r) === k);
      const base = held && baseVersion != null ? { ...held, version: baseVersion } : held;
      me.overlay.set(k, patch);
      rerender();
      const finish = (row) => {
        me.overlay.delete(k);
        if (row && rowKey(row)) me.rows = upsertRow(me.rows, row, matchRef.current);
        rerender();
      };
      try {
        const row = await send(patch, base ? base.version : undefined);
        finish(row);
        return row;
      } catch (err) {
        finish(null);
        if (err instanceof ApiError && err.status === 409 && err.current) {
          const theirs = err.current;
          if (opts.beforeConflict) opts.beforeConflict();
          me.rows = upsertRow(me.rows, theirs, matchRef.current);
          rerender();
          conflict.set({
            title: label || 'this item',
            returnFocus: opts.returnFocus,
            mine: { ...(base || {}), ...patch },
            theirs,
            keepTheirs() {
              conflict.set(null);
            },
            async overwrite() {
              conflict.set(null);
              const v = theirs.version;
              me.overlay.set(k, patch);
              rerender();
              try {
                finish(await send(patch, v));
              } catch (err2) {
                finish(null);
                notify({ kind: 'error', title: 'Save failed', body: err2.message });
              }
            },
          });
        } else if (!(opts.handled && opts.handled(err))) {
          notify({ kind: 'error', title: 'Change rolled back', body: err.message, key: `err:${k}:${Date.now()}` });
        }
        return null;
      }
    },
    [key]
  );

  const apply = useCallback(
    (row) => {
      st.current.rows = upsertRow(st.current.rows, row, matchRef.current);
      rerender();
    },
    [key]
  );
  const remove = useCallback(
    (id) => {
      st.current.rows = applyChange(st.current.rows, { eventType: 'DELETE', old: { id } });
      rerender();
    },
    [key]
  );

  if (s.sortedFrom !== s.rows || s.sortedWith !== sort) {
    s.sorted = sort ? s.rows.slice().sort(sort) : s.rows;
    s.sortedFrom = s.rows;
    s.sortedWith = sort;
  }
  const rows = withOverlay(s.sorted, s.overlay);

  return {
    rows,
    loading: s.loading,
    loadingMore: s.loadingMore,
    error: s.error,
    hasMore: !!s.cursor,
    total: s.total,
    totalCapped: s.totalCapped,
    counts: s.counts,
    channelStatus: channel.current,
    changeCount: s.changes,
    reload,
    loadMore,
    optimistic,
    apply,
    remove,
  };
}

// PATCH helper: sends If-Match when a version is known; resolves to the updated row.
export function patchRow(path, body, version) {
  const headers = version != null ? { 'If-Match': String(version) } : {};
  return api('PATCH', path, { body, headers }).then((r) => (r && r.data && r.data.id ? r.data : r));
}

const prio = { critical: 0, high: 1, normal: 2, low: 3 };
const byPriorityThenNew = (a, b) =>
  (prio[a.priority] ?? 9) - (prio[b.priority] ?? 9) || String(b.created_at || '').localeCompare(String(a.created_at || ''));

// The agents board's list: server paging (`pageSize` per request, loadMore for the next),
// search `q` (display name, reason, e-mail on the server; live rows not held yet are taken when
// their name or reason contains it), `sort` as the API takes it ('display_name',
// '-status_since', ...), total and counts per status from the server.
export function useRealtimeAgentStatus({ clientId, status, q, sort = 'display_name', pageSize = 500 } = {}) {
  const match = useCallback((r) => (!clientId || r.client_id === clientId) && (!status || r.status === status), [clientId, status]);
  const needle = (q || '').trim().toLowerCase();
  const admit = useCallback(
    (r) => !needle || [r.display_name, r.reason].some((v) => String(v || '').toLowerCase().includes(needle)),
    [needle]
  );
  const order = useMemo(() => serverOrder(sort), [sort]);
  const list = useLiveList({
    path: '/api/v1/agents',
    params: { client_id: clientId, status, q: needle || undefined, sort },
    table: 'agent_status',
    filter: clientId ? `client_id=eq.${clientId}` : undefined,
    match,
    admit,
    sort: order,
    pageSize,
    paged: true,
    countBy: 'status',
  });
  const updateStatus = useCallback(
    (agent, statusValue, reason) =>
      list.optimistic(
        agent.id,
        // A new status without a reason clears the old one ("lunch" must not stay while busy).
        { status: statusValue, reason: reason ?? null },
        (patch, v) => patchRow(`/api/v1/agents/${encodeURIComponent(agent.id)}`, patch, v),
        `agent ${agent.display_name || agent.id}`
      ),
    [list.optimistic]
  );
  return { ...list, agents: list.rows, updateStatus };
}

// Messages: the newest first from the server (`-created_at`, pages of 100, Load more), shown
// by priority then newest; search `q` (title and body) on the server.
export function useRealtimeSystemMessages({ clientId, state, priority, q } = {}) {
  const match = useCallback(
    (r) => (!clientId || r.client_id === clientId) && (!state || r.state === state) && (!priority || r.priority === priority),
    [clientId, state, priority]
  );
  const list = useLiveList({
    path: '/api/v1/messages',
    params: { client_id: clientId, state, priority, q, sort: '-created_at' },
    table: 'system_messages',
    match,
    admit: textAdmit(q, ['title', 'body']),
    sort: byPriorityThenNew,
    pageSize: 100,
  });
  return { ...list, messages: list.rows };
}

// Clients and users: server paging (Load more), search `q`, `sort` as the API takes it, the
// server's total. Live rows not held yet join only where the server would have them (paged).
export function useRealtimeClients({ status, q, sort = 'name' } = {}) {
  const match = useCallback((r) => !status || r.status === status, [status]);
  const order = useMemo(() => serverOrder(sort), [sort]);
  const list = useLiveList({ path: '/api/v1/clients', params: { status, q, sort }, table: 'clients', match, admit: textAdmit(q, ['name', 'slug']), sort: order, pageSize: 50, paged: true });
  return { ...list, clients: list.rows };
}

export function useRealtimeUsers({ clientId, role, status, q, sort = 'email' } = {}) {
  const match = useCallback(
    (r) => (!clientId || r.client_id === clientId) && (!role || r.role === role) && (!status || r.status === status),
    [clientId, role, status]
  );
  const order = useMemo(() => serverOrder(sort), [sort]);
  const list = useLiveList({
    path: '/api/v1/users',
    params: { client_id: clientId, role, status, q, sort },
    table: 'users',
    match,
    admit: textAdmit(q, ['email', 'name']),
    sort: order,
    pageSize: 50,
    paged: true,
  });
  return { ...list, users: list.rows };
}

// A live row not held yet joins a searched list when one of cols contains q (the server's
// search, approximated; undefined without a search).
function textAdmit(q, cols) {
  const needle = String(q || '').trim().toLowerCase();
  if (!needle) return undefined;
  return (r) => cols.some((c) => String(r[c] || '').toLowerCase().includes(needle));
}

// ---- dashboard ----

// Series per tenant survive a visit to another page (the chart keeps its last minutes); they
// are dropped when the session ends.
const dashCache = new Map();
const histCache = new Map();
onToken((token) => {
  if (!token) {
    dashCache.clear();
    histCache.clear();
  }
});

const unwrap = (m) => (m && m.data && !Array.isArray(m.data) ? m.data : m);

// The dashboard's live metrics: GET /api/v1/dashboard (again after every (re)join), then the
// `metrics` broadcasts on channel `dashboard` (config.dashboard.client_id picks a tenant for
// super_admin). Every snapshot received adds a point to `series` (time of receipt, last
// WINDOW_MS kept). Returns {metrics, series, flags (names set in the latest snapshot),
// updatedAt, live (channel status), error, reload}.
export function useRealtimeDashboardMetrics({ clientId } = {}) {
  const key = clientId || '';
  const empty = { metrics: null, series: [], flags: [], updatedAt: null };
  const [state, setState] = useState(() => dashCache.get(key) || empty);
  const [live, setLive] = useState('connecting');
  const [error, setError] = useState(null);
  const reloadRef = useRef(() => {});

  useEffect(() => {
    let alive = true;
    let cur = dashCache.get(key) || empty;
    setState(cur);
    const accept = (m, merge) => {
      if (!alive || !m || typeof m !== 'object') return;
      const now = Date.now();
      const metrics = merge ? { ...(cur.metrics || {}), ...m } : m;
      const f = flagsOf(m);
      cur = {
        metrics,
        updatedAt: now,
        flags: f || (merge ? cur.flags : []),
        series: appendPoint(cur.series, pointOf(metrics, now), now),
      };
      dashCache.set(key, cur);
      setState(cur);
    };
    const load = () =>
      api('GET', `/api/v1/dashboard${qs({ client_id: clientId })}`)
        .then((m) => {
          accept(unwrap(m), false);
          if (alive) setError(null);
        })
        .catch((e) => alive && setError(e));
    reloadRef.current = load;
    load();
    const config = clientId ? { dashboard: { client_id: clientId } } : {};
    const ch = openChannel(
      'dashboard',
      config,
      (c) => c.on('broadcast', { event: 'metrics' }, (msg) => accept(msg.payload, true)),
      (status) => {
        if (!alive) return;
        setLive(status);
        if (status === 'SUBSCRIBED') load();
      }
    );
    return () => {
      alive = false;
      ch.close();
    };
  }, [key]);

  return { ...state, live, error, reload: () => reloadRef.current() };
}

// The server's recorded dashboard series (GET /api/v1/dashboard/history) for the last
// `rangeMs`, fetched on open, when the range or tenant changes and every minute. Returns
// {points (chart samples, oldest first), state: loading|loaded|unavailable, error}.
export function useDashboardHistory({ clientId, rangeMs, maxPoints = 600 }) {
  const key = `${clientId || ''}|${rangeMs}`;
  // The last answer per tenant and range is kept like the live series: a page that is opened
  // again (or remounted) draws what it had at once, never fewer points while it asks again.
  const [st, setSt] = useState(() => histCache.get(key) || { points: [], state: 'loading', error: null, key: null });
  useEffect(() => {
    let alive = true;
    const load = () => {
      const now = Date.now();
      api('GET', `/api/v1/dashboard/history${qs({ client_id: clientId || undefined, from: new Date(now - rangeMs).toISOString(), to: new Date(now + 1000).toISOString(), max_points: maxPoints })}`)
        .then((b) => {
          if (!alive) return;
          const pts = ((b && (b.points || (b.data && b.data.points))) || []).map(historyPoint).filter(Boolean);
          const next = { points: pts, state: 'loaded', error: null, key };
          histCache.set(key, next);
          setSt(next);
        })
        .catch((e) => {
          if (!alive) return;
          setSt((o) => ({ points: o.points, state: 'unavailable', error: e, key }));
          // A server without the endpoint: live samples only, no asking again every minute.
          if (e && (e.status === 404 || e.status === 405)) clearInterval(t);
        });
    };
    const t = setInterval(load, 60000);
    load();
    return () => {
      alive = false;
      clearInterval(t);
    };
  }, [key]);
  // Until the answer for this tenant and range: "loading" (the previous points still drawn).
  return st.key === key ? st : { ...st, state: 'loading' };
}

// ---- statistics ----

// GET pathFn() on mount, when `deps` change, `debounceMs` after `trigger` changes (a burst of
// changes costs one request) and every `everyMs`. Responses that arrive out of order are
// dropped. Returns {data, error, loading, at (ms of the last answer), reload}.
export function useStats(pathFn, deps, trigger, { debounceMs = 400, everyMs = 30000 } = {}) {
  const [st, setSt] = useState({ data: null, error: null, loading: true, at: null });
  const seqRef = useRef(0);
  const fnRef = useRef(pathFn);
  fnRef.current = pathFn;
  const load = useCallback(() => {
    const id = ++seqRef.current;
    return api('GET', fnRef.current())
      .then((body) => {
        if (id === seqRef.current) setSt({ data: unwrap(body), error: null, loading: false, at: Date.now() });
      })
      .catch((err) => {
        if (id === seqRef.current) setSt((s) => ({ ...s, error: err, loading: false }));
      });
  }, []);
  useEffect(() => {
    setSt((s) => ({ ...s, loading: true }));
    load();
    const t = everyMs > 0 ? setInterval(load, everyMs) : null;
    return () => {
      clearInterval(t);
      seqRef.current++;
    };
  }, deps);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return undefined;
    }
    const t = setTimeout(load, debounceMs);
    return () => clearTimeout(t);
  }, [trigger]);
  return { ...st, reload: load };
}

// `value`, passed on once it has not changed for `ms` (a search box while typing).
export function useDebounced(value, ms) {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

// ---- windowed grid ----

// Windowed rendering of `count` equal-height cards in a CSS grid (`ul`, ref listRef) inside a
// scroll box (ref scrollRef): returns the refs and {start, end} of the cards to render (see
// gridWindow). Columns, row pitch (card height + row gap) and the viewport are measured after
// every render and on scroll (once per frame) and resize; the padding that stands in for the
// cards not rendered is set through the CSSOM (no style attributes: CSP). A change of
// `resetKey` (a new search or order) scrolls back to the top.
export function useGridWindow(count, { overscan = 3, resetKey } = {}) {
  const scrollRef = useRef(null);
  const listRef = useRef(null);
  const [geo, setGeo] = useState({ cols: 1, pitch: 0, top: 0, height: 0 });
  const measure = useCallback(() => {
    const sc = scrollRef.current;
    const ul = listRef.current;
    if (!sc || !ul) return;
    const cs = getComputedStyle(ul);
    const cols = Math.max(1, String(cs.gridTemplateColumns || '').split(' ').filter(Boolean).length);
    const card = ul.querySelector(':scope > li');
    const pitch = card ? card.offsetHeight + (parseFloat(cs.rowGap) || 0) : 0;
    const next = { cols, pitch, top: sc.scrollTop, height: sc.clientHeight };
    setGeo((g) => (g.cols === next.cols && g.pitch === next.pitch && g.top === next.top && g.height === next.height ? g : next));
  }, []);
  useLayoutEffect(() => {
    const sc = scrollRef.current;
    if (!sc) return undefined;
    let frame = 0;
    const onScroll = () => {
      if (!frame) {
        frame = requestAnimationFrame(() => {
          frame = 0;
          measure();
        });
      }
    };
    sc.addEventListener('scroll', onScroll, { passive: true });
    const ro = typeof ResizeObserver === 'function' ? new ResizeObserver(onScroll) : null;
    if (ro) ro.observe(sc);
    return () => {
      sc.removeEventListener('scroll', onScroll);
      if (ro) ro.disconnect();
      cancelAnimationFrame(frame);
    };
  }, [measure]);
  useLayoutEffect(measure);
  useEffect(() => {
    if (scrollRef.current) scrollRef.current.scrollTop = 0;
  }, [resetKey]);
  const w = gridWindow({ count, cols: geo.cols, pitch: geo.pitch || 160, top: geo.top, height: geo.height || 800, overscan });
  useLayoutEffect(() => {
    const ul = listRef.current;
    if (!ul) return;
    ul.style.paddingTop = `${w.padTop}px`;
    ul.style.paddingBottom = `${w.padBottom}px`;
  });
  return { scrollRef, listRef, ...w };
}

// ---- clock ----

// One interval per period shared by every component showing a live duration.
const clocks = new Map();
export function useNow(periodMs = 1000) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    let c = clocks.get(periodMs);
    if (!c) {
      c = { subs: new Set(), timer: null };
      clocks.set(periodMs, c);
    }
    c.subs.add(setNow);
    if (!c.timer) {
      c.timer = setInterval(() => {
        const t = Date.now();
        for (const fn of [...c.subs]) fn(t);
      }, periodMs);
    }
    setNow(Date.now());
    return () => {
      c.subs.delete(setNow);
      if (!c.subs.size) {
        clearInterval(c.timer);
        c.timer = null;
      }
    };
  }, [periodMs]);
  return now;
}
