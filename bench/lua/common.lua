-- Shared by every scenario (the benchmark prepends it to the scenario's script).
-- Each wrk thread has its own Lua state; done() runs in the main state and reads the
-- threads' `counters` table through thread:get().

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

counters = {}

function bench_count(name)
  counters[name] = (counters[name] or 0) + 1
end

function bench_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if line ~= "" then lines[#lines + 1] = line end
  end
  assert(#lines > 0, "no data in " .. path)
  return lines
end

-- Clients reach the service through one trusted reverse proxy (USERAUTH_TRUSTED_PROXIES=1),
-- from 1,024 addresses: per-address rate limits see a realistic spread, not one address.
local forwarded = 0

function bench_headers(extra)
  forwarded = (forwarded + 1) % 1024
  local headers = {
    ["X-Forwarded-For"] = string.format("10.77.%d.%d", math.floor(forwarded / 256), forwarded % 256),
  }
  for key, value in pairs(extra or {}) do headers[key] = value end
  return headers
end

local function urlencode(text)
  return (text:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function bench_form(method, path, fields)
  local parts = {}
  for _, field in ipairs(fields) do
    parts[#parts + 1] = field[1] .. "=" .. urlencode(field[2])
  end
  local headers = bench_headers({["Content-Type"] = "application/x-www-form-urlencoded"})
  return wrk.format(method, path, headers, table.concat(parts, "&"))
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for name, count in pairs(thread:get("counters") or {}) do
      totals[name] = (totals[name] or 0) + count
    end
  end
  local parts = {}
  for name, count in pairs(totals) do
    parts[#parts + 1] = string.format('"%s": %d', name, count)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
      .. '"status": %d, "timeout": %d, "mean_us": %d, "p50_us": %d, "p99_us": %d, "counters": {%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    math.floor(latency.mean), math.floor(latency:percentile(50)), math.floor(latency:percentile(99)),
    table.concat(parts, ", ")))
end
