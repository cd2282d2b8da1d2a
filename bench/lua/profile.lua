-- GET /profile, rotating over logged-in sessions. Arguments: file of clear session ids.
local ids, next_id = {}, 0

function init(args)
  ids = bench_lines(args[1])
end

function request()
  next_id = next_id % #ids + 1
  return wrk.format("GET", "/profile", bench_headers({Cookie = "session_id=" .. ids[next_id]}))
end
