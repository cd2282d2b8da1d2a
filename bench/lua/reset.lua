-- The reset pair: POST /reset_password issues a token; the response is parsed and the next
-- free connection spends it with PUT /reset_password, so every PUT carries a fresh, valid
-- token. Accounts rotate, so no token is replaced before it is spent.
-- Arguments: file of emails, the new password (the same as the old: other runs still log in).
local emails, password, next_email = {}, "", 0
local issued = {}

function init(args)
  emails, password = bench_lines(args[1]), args[2]
end

function request()
  local pending = table.remove(issued, 1)
  if pending then
    return bench_form("PUT", "/reset_password",
      {{"email", pending[1]}, {"reset_token", pending[2]}, {"new_password", password}})
  end
  next_email = next_email % #emails + 1
  return bench_form("POST", "/reset_password", {{"email", emails[next_email]}})
end

function response(status, headers, body)
  if status ~= 200 then
    bench_count("failed")
    return
  end
  local token = body:match('"reset_token"%s*:%s*"([^"]+)"')
  if token then
    table.insert(issued, {body:match('"email"%s*:%s*"([^"]+)"'), token})
    bench_count("issued")
  elseif body:find("Password updated", 1, true) then
    bench_count("pairs")
  end
end
