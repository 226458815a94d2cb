-- wrk script: each connection's requests join the queue as the next fan of a tokens file, once
-- each, writing the queue tickets it gets to a file of its thread; the thread stops when its
-- share of the fans has been sent and answered. Arguments: tokens file, performance ID, tickets
-- file prefix.
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
  out = io.open(args[3] .. id, "w")
  -- Thread i takes fans i, i + n, i + 2n, … (n = 2 threads).
  nextFan = id
  answered = 0
  share = math.floor((#tokens - id) / 2) + 1
end

function request()
  local token = tokens[nextFan] or tokens[1]
  nextFan = nextFan + 2
  return wrk.format("POST", path, { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, "{}")
end

function response(status, headers, body)
  local ticket = body:match('"queueTicket":"([^"]+)"')
  if ticket then out:write(ticket, "\n") end
  answered = answered + 1
  -- Every fan of this thread has been sent (later requests repeat its first fan): stop once
  -- nearly all have been answered, whatever a connection still has in flight.
  if nextFan > #tokens and answered >= share - 64 then
    out:close()
    wrk.thread:stop()
  end
end
