-- GET /profile (or another path that reads the session), rotating over logged-in sessions.
-- Arguments: file of clear session ids, path (default /profile).
local ids, path, next_id = {}, "/profile", 0

function init(args)
  ids = bench_lines(args[1])
  path = args[2] or path
end

function request()
  next_id = next_id % #ids + 1
  return wrk.format("GET", path, bench_headers({Cookie = "session_id=" .. ids[next_id]}))
end
