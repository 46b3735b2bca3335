-- req.lua — one wrk script for every route of ops/bench/run.sh, configured
-- through the environment:
--   BENCH_METHOD  GET (default), POST, PUT
--   BENCH_PATH    the path; "{id}" is replaced by the next of BENCH_IDS
--   BENCH_IDS     comma-separated entry ids, cycled per thread
--   BENCH_BODY    request body (sent as application/json)
--   BENCH_TOKEN   access token (Authorization: Bearer)
--   BENCH_ORIGIN  Origin header (CORS processing)
--   BENCH_COUNT   set: count 2xx answers and 503s (ok=, shed=, retry_after=
--                 in the result line); costs a Lua call per response
--   BENCH_UNIQUE  set: every request's body is a new text (a counter at the
--                 start of its "content"), as diary entries are: one text
--                 sent again and again would be served from caches and
--                 would leave an edited entry unchanged
-- done() prints one parseable line: WRK_RESULT key=value ...
-- Without "{id}" and BENCH_UNIQUE (and without BENCH_COUNT) no request() or
-- response() function is defined, so wrk sends one pre-built request and
-- Lua costs nothing per request.

local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/health"
local body = os.getenv("BENCH_BODY")
local token = os.getenv("BENCH_TOKEN")
local origin = os.getenv("BENCH_ORIGIN")

wrk.method = method
wrk.path = path
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
if origin and origin ~= "" then
  wrk.headers["Origin"] = origin
end

local ids = {}
for id in string.gmatch(os.getenv("BENCH_IDS") or "", "[^,]+") do
  ids[#ids + 1] = id
end

local counting = (os.getenv("BENCH_COUNT") or "") ~= ""
local threads = {}
local thread_no = 0
function setup(thread)
  thread:set("offset", thread_no * 37)
  thread_no = thread_no + 1
  table.insert(threads, thread)
end

if counting then
  function init(args)
    ok, shed, retry_after = 0, 0, 0
  end
  function response(status, headers, body)
    if status >= 200 and status < 300 then
      ok = ok + 1
    elseif status == 503 then
      shed = shed + 1
      if headers["Retry-After"] then retry_after = retry_after + 1 end
    end
  end
end

local has_ids = string.find(path, "{id}", 1, true) ~= nil
local unique = (os.getenv("BENCH_UNIQUE") or "") ~= ""
local body_head, body_tail
if unique then
  local mark = '"content": "'
  local at = body and string.find(body, mark, 1, true)
  if not at then
    error('BENCH_UNIQUE needs a BENCH_BODY with "content": "..."')
  end
  body_head = string.sub(body, 1, at + #mark - 1)
  body_tail = string.sub(body, at + #mark)
end

if has_ids or unique then
  local i = 0
  function request()
    i = i + 1
    local p = path
    if has_ids then
      p = string.gsub(path, "{id}", ids[((i + (offset or 0)) % #ids) + 1])
    end
    local b = nil
    if unique then -- offset tells the threads apart
      b = body_head .. "#" .. (offset or 0) .. "-" .. i .. " " .. body_tail
    end
    return wrk.format(nil, p, nil, b)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local counts = ""
  if counting then
    local o, s, r = 0, 0, 0
    for _, t in ipairs(threads) do
      o, s, r = o + t:get("ok"), s + t:get("shed"), r + t:get("retry_after")
    end
    counts = string.format(" ok=%d shed=%d retry_after=%d", o, s, r)
  end
  io.write(string.format(
    "WRK_RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d " ..
    "status_errors=%d socket_errors=%d%s\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout, counts))
end
