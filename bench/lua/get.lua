-- GET a fixed path. Arguments: path.
local path = "/"

function init(args)
  path = args[1] or "/"
end

function request()
  return wrk.format("GET", path, bench_headers())
end
