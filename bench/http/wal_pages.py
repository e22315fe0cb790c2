#!/usr/bin/env python3
"""Where an SQLite WAL's bytes go: frames per commit, and the pages written per commit by
B-tree (table or index), from a copy of a database and its WAL taken while the server ran.

    bench/http/wal_pages.py COPY.db COPY.db-wal

Take the copy with the server stopped by SIGKILL (a clean stop checkpoints and removes the
WAL), or copy both files while it runs. The WAL is read first; then COPY.db is opened (with
its WAL, so pages the WAL added are mapped too) to name every page through the dbstat table.
Opening it checkpoints the copy: run once per copy. Only the frames since the WAL last started
again (its salt) count. Reads files only; no server is needed.
"""
import collections
import sqlite3
import struct
import sys


def read_commits(wal_path):
    data = open(wal_path, 'rb').read()
    if len(data) < 32:
        sys.exit(f'{wal_path}: not a WAL')
    _, _, page_size, _, salt1, salt2, _, _ = struct.unpack('>IIIIIIII', data[:32])
    frame = 24 + page_size
    commits, current = [], []
    for i in range((len(data) - 32) // frame):
        off = 32 + i * frame
        page, commit_size, s1, s2 = struct.unpack('>IIII', data[off:off + 16])
        if (s1, s2) != (salt1, salt2):
            break  # frames of an earlier pass through the file
        current.append(page)
        if commit_size:
            commits.append(current)
            current = []
    return page_size, commits


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    page_size, commits = read_commits(sys.argv[2])
    if not commits:
        sys.exit('no committed frames in the WAL')
    con = sqlite3.connect(sys.argv[1])
    owner = {}
    for name, page in con.execute('SELECT name, pageno FROM dbstat'):
        owner[page] = name
    con.close()
    frames = sum(len(c) for c in commits)
    print(f'page size {page_size}, {len(commits)} commits, {frames} frames, '
          f'{frames / len(commits):.1f} frames ({frames * (page_size + 24) / len(commits) / 1024:.0f} KiB) per commit')
    by_tree = collections.Counter()
    for c in commits:
        for page in c:
            by_tree[owner.get(page, '(not in the database: freelist or past its end)')] += 1
    for name, n in by_tree.most_common():
        print(f'  {name:45s} {n / len(commits):5.2f} pages per commit')


if __name__ == '__main__':
    main()
