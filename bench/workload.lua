-- wrk script for the five benchmark workloads.
--
--   wrk -t1 -c32 -d10s -s bench/workload.lua http://127.0.0.1:PORT -- WORKLOAD DATA_FILE
--
-- WORKLOAD is list, get, create, update or mixed. DATA_FILE is a Lua file written by
-- bench/run.py that returns { readers = { {token = "...", tasks = {"uuid", ...}}, ... },
-- writers = {"token", ...} }: readers own the seeded tasks that list, get and update touch;
-- writers own the tasks that create makes, so reading users keep exactly their seeded tasks.
-- Mixed is 30% list + 30% get (60% reads), 25% create, 15% update.
-- done() prints one line, "BENCH_RESULT {json}", that run.py parses.

local workload
local readers
local writers
local counter = 0
local next_thread_id = 1

function setup(thread)
   thread:set("thread_id", next_thread_id)
   next_thread_id = next_thread_id + 1
end

local function auth(token, with_body)
   local headers = { ["Authorization"] = "Bearer " .. token }
   if with_body then
      headers["Content-Type"] = "application/json"
   end
   return headers
end

local function list_page()
   local reader = readers[math.random(#readers)]
   return wrk.format("GET", "/tasks?limit=50", auth(reader.token, false))
end

local function get_one()
   local reader = readers[math.random(#readers)]
   local task_id = reader.tasks[math.random(#reader.tasks)]
   return wrk.format("GET", "/tasks/" .. task_id, auth(reader.token, false))
end

local function create()
   counter = counter + 1
   local token = writers[math.random(#writers)]
   local body = '{"title":"bench task ' .. counter .. '","description":"made by the benchmark"}'
   return wrk.format("POST", "/tasks", auth(token, true), body)
end

local function update()
   counter = counter + 1
   local reader = readers[math.random(#readers)]
   local task_id = reader.tasks[math.random(#reader.tasks)]
   local body = '{"title":"renamed ' .. counter .. '"}'
   return wrk.format("PATCH", "/tasks/" .. task_id, auth(reader.token, true), body)
end

local function mixed()
   local dice = math.random(100)
   if dice <= 30 then
      return list_page()
   elseif dice <= 60 then
      return get_one()
   elseif dice <= 85 then
      return create()
   end
   return update()
end

local workloads = { list = list_page, get = get_one, create = create, update = update, mixed = mixed }

function init(args)
   workload = args[1]
   assert(workloads[workload], "unknown workload: " .. tostring(workload))
   local data = dofile(args[2])
   readers = data.readers
   writers = data.writers
   -- thread_id is set by setup() in this thread's own Lua state.
   math.randomseed(os.time() * 1000 + (thread_id or 0))
end

function request()
   return workloads[workload]()
end

function done(summary, latency, requests)
   local errors = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,'
         .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeout_errors":%d,'
         .. '"status_errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
      summary.requests, summary.duration, summary.bytes,
      errors.connect, errors.read, errors.write, errors.timeout, errors.status,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean
   ))
end
