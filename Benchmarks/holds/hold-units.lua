-- wrk script: each request holds one general-admission unit of the tier "Standing" for one
-- random fan. Arguments: tokens file, performance ID.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  path = "/v1/performances/" .. args[2] .. "/holds"
  held, refused, other = 0, 0, 0
  math.randomseed(os.time() + #threads * 7919 + math.floor(os.clock() * 1000000))
end

function request()
  return wrk.format("POST", path,
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)] },
    '{"tier":"Standing","quantity":1}')
end

function response(status)
  if status == 201 then held = held + 1
  elseif status == 409 then refused = refused + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local h, r, o = 0, 0, 0
  for _, thread in ipairs(threads) do
    h = h + thread:get("held"); r = r + thread:get("refused"); o = o + thread:get("other")
  end
  io.write(string.format("RESULT held=%d taken=%d other=%d errors=%d p50=%.2f p99=%.2f rps=%.0f\n",
    h, r, o, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests / (summary.duration / 1000000)))
end
