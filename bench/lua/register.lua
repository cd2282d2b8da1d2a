-- POST /users with a new email every request: run nonce, thread id and a counter.
-- Arguments: run nonce, password.
local nonce, password, count = "", "", 0

function init(args)
  nonce, password = args[1], args[2]
end

function request()
  count = count + 1
  local email = string.format("new-%s-%d-%d@bench.example.com", nonce, tid, count)
  return bench_form("POST", "/users", {{"email", email}, {"password", password}})
end
