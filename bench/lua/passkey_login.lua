-- A passkey login: POST /sessions/passkey/options, then POST /sessions/passkey with an
-- answer signed beforehand (bench/passkey_login.py: wrk cannot sign) over a challenge of its
-- own. Arguments: file of lines `cookie json-body`. Each login comes from its own address,
-- as in second_factor.lua (the per-address login limit would cap the run, not the server).
local pool, next_login, asked = {}, 0, false

function init(args)
  for _, line in ipairs(bench_lines(args[1])) do
    local cookie, body = line:match("^(%S+) (.+)$")
    pool[#pool + 1] = { cookie, body }
  end
end

local function address(number)
  return string.format("10.%d.%d.%d", 100 + math.floor(number / 65536) % 100,
    math.floor(number / 256) % 256, number % 256)
end

function request()
  if not asked then
    asked = true
    return wrk.format("POST", "/sessions/passkey/options",
      bench_headers({ ["X-Forwarded-For"] = address(next_login + 1) }), "")
  end
  asked = false
  next_login = next_login + 1
  local login = pool[(next_login - 1) % #pool + 1]
  if next_login > #pool then bench_count("exhausted") end
  local headers = bench_headers({
    ["Content-Type"] = "application/json",
    Cookie = "login_challenge=" .. login[1],
    ["X-Forwarded-For"] = address(next_login),
  })
  return wrk.format("POST", "/sessions/passkey", headers, login[2])
end

function response(status, headers, body)
  if status == 200 and body:find('"logged in"', 1, true) then bench_count("completed") end
end
