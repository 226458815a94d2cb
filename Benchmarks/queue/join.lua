-- wrk script: each request joins the queue as a fan not sent before (from a tokens file,
-- starting after an offset), and the queue tickets answered are written to a file per thread.
-- Arguments: tokens file, performance ID, tickets file prefix, offset.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  path = "/v1/performances/" .. args[2] .. "/queue/join"
  out = io.open(args[3] .. args[4] .. "-" .. id, "w")
  -- Thread i takes fans offset + i, offset + i + 2, … (2 threads).
  nextFan = tonumber(args[4]) + id
end

function request()
  local token = tokens[nextFan] or tokens[#tokens]
  nextFan = nextFan + 2
  return wrk.format("POST", path, { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, "{}")
end

function response(status, headers, body)
  local ticket = body:match('"queueTicket":"([^"]+)"')
  if ticket then
    out:write(ticket, "\n")
    out:flush()
  end
end
