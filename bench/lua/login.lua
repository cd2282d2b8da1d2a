-- POST /sessions with valid logins, rotating over accounts.
-- Arguments: file of emails, their password.
local emails, password, next_email = {}, "", 0

function init(args)
  emails, password = bench_lines(args[1]), args[2]
end

function request()
  next_email = next_email % #emails + 1
  return bench_form("POST", "/sessions", {{"email", emails[next_email]}, {"password", password}})
end
