-- wrk script: each request polls the status of a random waiter's ticket.
-- Arguments: tickets file, performance ID.
function init(args)
  tickets = {}
  for line in io.lines(args[1]) do tickets[#tickets + 1] = line end
  path = "/v1/performances/" .. args[2] .. "/queue/status"
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  return wrk.format("GET", path, { ["Queue-Ticket"] = tickets[math.random(#tickets)] })
end
