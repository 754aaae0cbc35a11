-- wrk script for etcd's v3 HTTP/JSON gateway, used by bench/cluster_compare.sh.
-- Each request is a put (POST /v3/kv/put) or a linearizable get (POST /v3/kv/range, whose
-- serializable flag defaults to false) of a random key out of KEYS, chosen by the OP and KEYS
-- environment variables; values are VALUE_SIZE bytes. Keys are "key:" plus 12 digits, as the
-- other drivers of the benchmark use.
local op = os.getenv("OP") or "put"
local keys = tonumber(os.getenv("KEYS") or "100000")
local value_size = tonumber(os.getenv("VALUE_SIZE") or "64")

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- Standard base64 (RFC 4648, with padding), as the gateway expects for bytes fields.
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local d1 = math.floor(n / 262144) % 64
    local d2 = math.floor(n / 4096) % 64
    local d3 = math.floor(n / 64) % 64
    local d4 = n % 64
    out[#out + 1] = alphabet:sub(d1 + 1, d1 + 1) .. alphabet:sub(d2 + 1, d2 + 1) ..
        (b and alphabet:sub(d3 + 1, d3 + 1) or "=") .. (c and alphabet:sub(d4 + 1, d4 + 1) or "=")
  end
  return table.concat(out)
end

local value = base64(string.rep("v", value_size))
local path = op == "put" and "/v3/kv/put" or "/v3/kv/range"

function setup(thread)
  thread:set("seed", math.random(1, 2 ^ 30))
end

function init(args)
  math.randomseed(seed or os.time())
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  local key = base64(string.format("key:%012d", math.random(0, keys - 1)))
  local body
  if op == "put" then
    body = '{"key":"' .. key .. '","value":"' .. value .. '"}'
  else
    body = '{"key":"' .. key .. '"}'
  end
  return wrk.format(nil, path, nil, body)
end

-- summary.errors.status counts responses whose status is not 2xx/3xx.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK_RESULT requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end
