-- wrk 4.x script of perf/wrk.py (one closed-loop run): POST $PERF_WRK_BODY with the headers of
-- $PERF_WRK_HEADERS ("Name: value" lines); each thread sends $PERF_WRK_QUOTA requests, waits for their answers,
-- stops and writes "quota" to stderr (perf/wrk.py then wakes wrk's main thread, which sleeps out -d otherwise).
-- Counted as load.py counts: shed = HTTP 503 whose body says "OVERLOADED"; error = any other status but 200, or
-- a 200 whose body has "errors" (GraphQL errors). done() prints one JSON line: totals over the threads and the
-- latency percentiles in microseconds, of every answer (wrk's histogram cannot set the shed ones apart).

wrk.method = "POST"
wrk.body = os.getenv("PERF_WRK_BODY")
for name, value in (os.getenv("PERF_WRK_HEADERS") or ""):gmatch("([^\n:]+): ([^\n]*)") do
  wrk.headers[name] = value
end

-- per thread (globals, so that done() can read them with thread:get)
quota = tonumber(os.getenv("PERF_WRK_QUOTA"))
sent, answered, errors, shed, first_error = 0, 0, 0, 0, nil

function delay()
  if sent >= quota then
    return 1e9 -- the quota is sent: this connection sends nothing more before the thread stops
  end
  sent = sent + 1
  return 0
end

function response(status, headers, body)
  answered = answered + 1
  if status == 503 and body:find('"OVERLOADED"', 1, true) then
    shed = shed + 1
  elseif status ~= 200 or body:find('"errors"', 1, true) then
    errors = errors + 1
    first_error = first_error or ("HTTP " .. status .. ": " .. body:sub(1, 300))
  end
  if answered == quota then
    wrk.thread:stop()
    io.stderr:write("quota\n")
  end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- wrk corrects its latency histogram for coordinated omission before done(): each latency n >= 2e (e: the run's
-- duration over the requests per connection) adds a count at n-e, n-2e, ... while above e. load.py reports the
-- latencies as measured, so done() undoes that through LuaJIT's FFI on wrk 4.x's `stats` struct (checked against
-- latency.min/max and the count of answers); failing the checks, it reports wrk's corrected figures and says so.
local ffi = require("ffi")
ffi.cdef("typedef struct { uint64_t count, limit, min, max; uint64_t data[?]; } perf_wrk_stats;")
local connections = tonumber(os.getenv("PERF_WRK_CONNECTIONS"))

local function measured(summary, latency)
  local s = ffi.cast("perf_wrk_stats **", latency)[0]
  local min, max = tonumber(s.min), tonumber(s.max)
  if summary.requests == 0 or min ~= latency.min or max ~= latency.max then
    return nil
  end
  local per_connection = math.floor(summary.requests / connections)
  local e = per_connection > 0 and math.floor(summary.duration / per_connection) or math.huge
  local values, total = {}, 0
  for m = min, max do
    local n = tonumber(s.data[m])
    if m > e and m + e <= max then
      n = n - tonumber(s.data[m + e])
    end
    if n > 0 then
      values[#values + 1], total = {m, n}, total + n
    end
  end
  if total ~= summary.requests - summary.errors.timeout then
    return nil
  end
  return values, total
end

local function percentiles(values, total, ...)
  local out, seen, i = {}, 0, 1
  for _, q in ipairs({...}) do
    local rank = math.max(1, math.min(total, math.floor(q * total + 0.5)))
    while seen + values[i][2] < rank do
      seen, i = seen + values[i][2], i + 1
    end
    out[#out + 1] = values[i][1]
  end
  return out
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
  local total = {answered = 0, errors = 0, shed = 0}
  local first = nil
  for _, thread in ipairs(threads) do
    for key in pairs(total) do
      total[key] = total[key] + thread:get(key)
    end
    first = first or thread:get("first_error")
  end
  local e = summary.errors
  local transport = e.connect + e.read + e.write + e.timeout
  if transport > 0 then
    first = first or string.format("wrk socket errors: connect %d, read %d, write %d, timeout %d",
                                   e.connect, e.read, e.write, e.timeout)
  end
  local values, count = measured(summary, latency)
  local p = values and percentiles(values, count, 0.50, 0.95, 0.99)
    or {latency:percentile(50), latency:percentile(95), latency:percentile(99)}
  local sum = 0
  for _, v in ipairs(values or {}) do
    sum = sum + v[1] * v[2]
  end
  io.write(string.format(
    '\n{"requests": %d, "answered": %d, "duration_us": %d, "errors": %d, "transport_errors": %d, "shed": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d, "latency": "%s", ' ..
    '"wrk_corrected_p99_us": %d, "first_error": %s}\n',
    summary.requests, total.answered, summary.duration, total.errors + transport, transport, total.shed,
    p[1], p[2], p[3], values and sum / count or latency.mean, latency.max,
    values and "as measured" or "corrected for coordinated omission by wrk", latency:percentile(99),
    first and json_string(first) or "null"))
end
