-- wrk script: each request holds one random seat for one random fan, or, when the first
-- argument is "standing", one unit of the general-admission tier "Standing".
-- Arguments: seats file or "standing", tokens file, performance ID.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  seats, tokens = {}, {}
  standing = args[1] == "standing"
  if not standing then
    for line in io.lines(args[1]) do seats[#seats + 1] = line end
  end
  for line in io.lines(args[2]) do tokens[#tokens + 1] = line end
  path = "/v1/performances/" .. args[3] .. "/holds"
  held, taken, other = 0, 0, 0
  math.randomseed(os.time() + #threads * 7919 + math.floor(os.clock() * 1000000))
end

function request()
  local body = '{"tier":"Standing","quantity":1}'
  if not standing then body = '{"seatIds":["' .. seats[math.random(#seats)] .. '"]}' end
  return wrk.format("POST", path,
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)] }, body)
end

function response(status)
  if status == 201 then held = held + 1
  elseif status == 409 then taken = taken + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local h, t, o = 0, 0, 0
  for _, thread in ipairs(threads) do
    h = h + thread:get("held"); t = t + thread:get("taken"); o = o + thread:get("other")
  end
  io.write(string.format("RESULT held=%d taken=%d other=%d errors=%d p50=%.2f p99=%.2f rps=%.0f\n",
    h, t, o, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests / (summary.duration / 1000000)))
end
