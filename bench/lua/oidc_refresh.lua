-- POST /oauth2/token, grant_type=refresh_token, as a relying party refreshes: each answer's
-- new refresh token (rotation: the old one is spent) is the one a later request sends.
-- Arguments: file of refresh tokens (more than the connections), Authorization header value.
local queue, basic = {}, ""

function init(args)
  queue, basic = bench_lines(args[1]), args[2]
end

function request()
  local token = table.remove(queue, 1)
  if token == nil then
    -- Every token is in flight or was lost to an error: a request that must fail, counted.
    bench_count("starved")
    token = "none"
  end
  return wrk.format("POST", "/oauth2/token", bench_headers({
    ["Content-Type"] = "application/x-www-form-urlencoded",
    Authorization = basic,
  }), "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if status == 200 and token then
    queue[#queue + 1] = token
    bench_count("completed")
  end
end
