-- POST /oauth2/introspect (RFC 7662) as the confidential client that holds the tokens,
-- rotating over its live access tokens.
-- Arguments: file of access tokens, Authorization header value.
local tokens, next_token, basic = {}, 0, ""

function init(args)
  tokens, basic = bench_lines(args[1]), args[2]
end

function request()
  next_token = next_token % #tokens + 1
  return wrk.format("POST", "/oauth2/introspect", bench_headers({
    ["Content-Type"] = "application/x-www-form-urlencoded",
    Authorization = basic,
  }), "token_type_hint=access_token&token=" .. tokens[next_token])
end

function response(status, headers, body)
  if status == 200 and body:find('"active": *true') then bench_count("active") end
end
