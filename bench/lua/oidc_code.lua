-- POST /oauth2/token, grant_type=authorization_code: each request spends its own code (a code
-- is spent once), with its PKCE verifier, as a confidential client (client_secret_basic).
-- Arguments: file of lines `code verifier` (bench/oidc_pools.py), Authorization header value,
-- redirect URI.
local pool, next_code, basic, redirect_uri = {}, 0, "", ""

function init(args)
  for _, line in ipairs(bench_lines(args[1])) do
    local code, verifier = line:match("^(%S+) (%S+)$")
    pool[#pool + 1] = { code, verifier }
  end
  basic = args[2]
  redirect_uri = args[3]:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end)
end

function request()
  next_code = next_code + 1
  if next_code > #pool then bench_count("exhausted") end
  local code = pool[(next_code - 1) % #pool + 1]
  return wrk.format("POST", "/oauth2/token", bench_headers({
    ["Content-Type"] = "application/x-www-form-urlencoded",
    Authorization = basic,
  }), "grant_type=authorization_code&code=" .. code[1] .. "&code_verifier=" .. code[2]
    .. "&redirect_uri=" .. redirect_uri)
end

function response(status, headers, body)
  if status == 200 and body:find('"id_token"', 1, true) then bench_count("completed") end
end
