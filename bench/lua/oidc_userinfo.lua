-- GET /oauth2/userinfo with a bearer access token, rotating over live tokens.
-- Arguments: file of access tokens.
local tokens, next_token = {}, 0

function init(args)
  tokens = bench_lines(args[1])
end

function request()
  next_token = next_token % #tokens + 1
  return wrk.format("GET", "/oauth2/userinfo",
    bench_headers({ Authorization = "Bearer " .. tokens[next_token] }))
end
