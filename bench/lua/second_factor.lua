-- POST /sessions/second-factor: each request completes its own pending login with a valid
-- TOTP code (a pending login is spent once, a code accepted once per account).
-- Arguments: file of lines `challenge first_step code code ...` (bench/second_factor.py).
-- Each pending login stands for its own browser, so each request comes from its own address
-- (the per-address limit of 20 logins a minute would otherwise cap the run, not the server).
local pool, next_line = {}, 0

function init(args)
  for _, line in ipairs(bench_lines(args[1])) do
    local fields = {}
    for field in line:gmatch("%S+") do fields[#fields + 1] = field end
    pool[#pool + 1] = fields
  end
end

function request()
  next_line = next_line + 1
  local fields = pool[(next_line - 1) % #pool + 1]
  if next_line > #pool then bench_count("exhausted") end
  -- The code of the step after the current one: inside RFC 6238's +-1 step window.
  local ahead = math.floor(os.time() / 30) - tonumber(fields[2]) + 1
  local headers = bench_headers({
    ["Content-Type"] = "application/x-www-form-urlencoded",
    Cookie = "login_challenge=" .. fields[1],
    ["X-Forwarded-For"] = string.format("10.%d.%d.%d", 100 + math.floor(next_line / 65536) % 100,
      math.floor(next_line / 256) % 256, next_line % 256),
  })
  return wrk.format("POST", "/sessions/second-factor", headers, "code=" .. fields[2 + ahead])
end

function response(status, headers, body)
  if status == 200 then bench_count("completed") end
end
