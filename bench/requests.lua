-- wrk script for every workload: the requests come from a generated file
-- (BENCH_REQUESTS), one per line: path TAB headers TAB body, headers as "name: value"
-- pairs separated by \1. Each thread walks its own
-- share of the list (thread k of n takes items k, k + n, ...), so a list of distinct
-- mutations is never sent twice. A response that is not 200, or carries "errors", is
-- counted; done() prints the counts as one JSON line for bench/harness.py.
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local items, i, n, once, answered, inflight = nil, 0, 1, false, 0, 16
errors, sample = 0, ""

function init(args)
  items = {}
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local path, hs, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {}
    for pair in hs:gmatch("[^\1]+") do
      local k, v = pair:match("^([^:]+): (.*)$")
      headers[k] = v
    end
    table.insert(items, { path, headers, body })
  end
  n = tonumber(os.getenv("BENCH_THREADS")) or 2
  once = os.getenv("BENCH_ONCE") == "1"
  inflight = tonumber(os.getenv("BENCH_INFLIGHT")) or 16
  i = tid
end

-- With BENCH_ONCE=1 each item is sent at most once: a thread stops when its share of
-- the list is answered (requests still in flight on its other connections may go out
-- again: so it stops BENCH_INFLIGHT (its connections) answers early, and none repeats).
function request()
  local item = items[(i % #items) + 1]
  i = i + n
  return wrk.format("POST", item[1], item[2], item[3])
end

function response(status, headers, body)
  answered = answered + 1
  if once and answered >= #items / n - inflight then wrk.thread:stop() end
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    errors = errors + 1
    if sample == "" then
      sample = string.gsub(status .. " " .. string.sub(body, 1, 300), '[%c"\\]', " ")
    end
  end
end

function done(summary, latency, requests)
  local total, first = 0, ""
  for _, t in ipairs(threads) do
    total = total + (t:get("errors") or 0)
    if first == "" then first = t:get("sample") or "" end
  end
  io.write(string.format('BENCH_RESULT {"errors": %d, "requests": %d, "duration_us": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "mean_us": %d, "sample": "%s"}\n', total, summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99), latency.mean, first))
end
