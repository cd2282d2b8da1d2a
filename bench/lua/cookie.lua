-- GET a path as a peer app's logged-in browsers would, rotating over their Cookie headers.
-- No proxy header and no User-Agent: the peers' sessions were made for exactly that client.
-- Arguments: file of "<Cookie header value><TAB><email>" lines, path (default /profile).
local cookies, path, next_cookie = {}, "/profile", 0

function init(args)
  for _, line in ipairs(bench_lines(args[1])) do
    cookies[#cookies + 1] = line:match("^[^\t]+")
  end
  path = args[2] or path
end

function request()
  next_cookie = next_cookie % #cookies + 1
  return wrk.format("GET", path, {Cookie = cookies[next_cookie]})
end
