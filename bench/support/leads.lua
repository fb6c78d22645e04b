-- wrk script for bench/ingest.py: POST a fixed number of unique, realistic lead bodies to /v1/leads.
--
--   wrk -t T -c C -d MAX_S --timeout 10s -s bench/leads.lua URL -- TAG PER_THREAD FINISH_FILE T
--
-- Each thread sends exactly PER_THREAD leads. When a thread has sent its share, every connection
-- that frees up is parked with an incomplete request head (the server never sees a request, so it
-- stores and answers nothing); once the thread has all its answers it stops. The last thread to
-- finish sends SIGINT to wrk, which ends wrk's sleep at once instead of waiting for -d. Throughput
-- is timed in Lua (monotonic clock, first request to last answer); latencies come from wrk's
-- histogram. done() prints one line "BENCH_RESULT {json}".

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
int kill(int pid, int sig);
int getpid(void);
]])

local CLOCK_MONOTONIC = 1
local SIGINT = 2
local timespec = ffi.new("bench_timespec")

local function now_s()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
   return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) / 1e9
end

-- setup and done run in wrk's main Lua state ------------------------------------------------------

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

local function q(s)
   return '"' .. s .. '"'
end

function done(summary, latency, requests)
   local sent, ok, answered, body_bytes, finished = 0, 0, 0, 0, 0
   local t_start, t_end = math.huge, 0
   local statuses = {}
   for _, thread in ipairs(threads) do
      sent = sent + thread:get("sent")
      ok = ok + thread:get("ok")
      answered = answered + thread:get("answered")
      body_bytes = body_bytes + thread:get("body_bytes")
      if thread:get("finished") then
         finished = finished + 1
      end
      local started = thread:get("t_start")
      if started and started < t_start then
         t_start = started
      end
      local ended = thread:get("t_end") or now_s()
      if ended > t_end then
         t_end = ended
      end
      for code, count in pairs(thread:get("statuses")) do
         statuses[code] = (statuses[code] or 0) + count
      end
   end
   local status_json = {}
   for code, count in pairs(statuses) do
      table.insert(status_json, string.format('"%d":%d', code, count))
   end
   local e = summary.errors
   print("BENCH_RESULT " .. string.format(
      '{"threads":%d,"finished_threads":%d,"sent":%d,"answered":%d,"ok":%d,"statuses":{%s},'
         .. '"body_bytes":%d,"elapsed_s":%.6f,"wrk_requests":%d,"wrk_duration_us":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
         .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}',
      #threads, finished, sent, answered, ok, table.concat(status_json, ","),
      body_bytes, t_end - t_start, summary.requests, summary.duration,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
      latency.max, latency.mean
   ))
end

-- the running phase, one Lua state per wrk thread --------------------------------------------------

local SOURCES = { "hubspot", "salesforce", "webform", "marketo", "linkedin_ads", "zoominfo" }
local FIRST = {
   "Anna", "Jonas", "Maria", "Tom", "Yuki", "Lena", "Omar", "Sofia", "Lukas", "Emma", "Noah", "Mia",
   "Elias", "Hannah", "Liam", "Chloe", "Mateo", "Aisha", "Ravi", "Ingrid", "Pierre", "Camille",
}
local LAST = {
   "Berger", "Keller", "Lopez", "Walsh", "Sato", "Novak", "Haddad", "Rossi", "Schmidt", "Dubois",
   "Jansen", "Nilsson", "Kowalski", "Fernandes", "Okafor", "Patel", "Murphy", "Tanaka", "Meyer",
}
local COMPANIES = {
   { "Acme Analytics GmbH", "acme-analytics.de" }, { "Northwind Systems", "northwind.io" },
   { "Globex Fintech", "globex-fin.com" }, { "Initech Software", "initech.com" },
   { "Umbrella Logistics", "umbrella-logistics.com" }, { "Stark Manufacturing AG", "stark-mfg.ch" },
   { "Wayne Retail Group", "wayne-retail.co.uk" }, { "Hooli Cloud", "hooli.cloud" },
   { "Vandelay Industries", "vandelay.com" }, { "Soylent Health", "soylent-health.fr" },
   { "Tyrell Data BV", "tyrell-data.nl" }, { "Cyberdyne IT Services", "cyberdyne.at" },
   { "Pied Piper", "piedpiper.com" }, { "Massive Dynamic", "massivedynamic.ca" },
   { "Oscorp Energy", "oscorp-energy.com" }, { "Wonka Foods", "wonka-foods.es" },
}
local FREE_MAIL = { "gmail.com", "yahoo.com", "outlook.com", "gmx.de", "web.de" }
local INDUSTRIES = {
   "software", "saas", "fintech", "it_services", "manufacturing", "retail", "healthcare",
   "education", "logistics", "media", "energy", "government",
}
local SENIORITY = {
   { "c_level", "Chief Revenue Officer" }, { "vp", "VP Marketing" }, { "director", "Director of Sales Ops" },
   { "head", "Head of Demand Generation" }, { "manager", "Marketing Operations Manager" },
   { "senior", "Senior RevOps Analyst" }, { "entry", "Sales Development Representative" },
   { "manager", "IT Manager" }, { "director", "Director of Engineering" },
}
local DEPARTMENTS = { "marketing", "sales", "engineering", "it", "operations", "finance", "procurement" }
local PLACES = {
   { "DE", "Bavaria", "Munich", "+49 89" }, { "DE", "Berlin", "Berlin", "+49 30" },
   { "AT", "Vienna", "Vienna", "+43 1" }, { "CH", "Zurich", "Zurich", "+41 44" },
   { "FR", "Ile-de-France", "Paris", "+33 1" }, { "NL", "North Holland", "Amsterdam", "+31 20" },
   { "GB", "England", "London", "+44 20" }, { "US", "California", "San Francisco", "+1 415" },
   { "US", "New York", "New York", "+1 212" }, { "CA", "Ontario", "Toronto", "+1 416" },
   { "ES", "Madrid", "Madrid", "+34 91" }, { "IT", "Lombardy", "Milan", "+39 02" },
   { "BR", "Sao Paulo", "Sao Paulo", "+55 11" }, { "IN", "Karnataka", "Bengaluru", "+91 80" },
   { "JP", "Tokyo", "Tokyo", "+81 3" }, { "AU", "New South Wales", "Sydney", "+61 2" },
   { "PL", "Masovia", "Warsaw", "+48 22" }, { "SE", "Stockholm", "Stockholm", "+46 8" },
}
local LEAD_SOURCES = { "organic_search", "paid_search", "webinar", "event", "referral", "content", "partner" }
local UTM_SOURCES = { "google", "linkedin", "newsletter", "bing", "g2", "capterra", "partner_portal" }
local UTM_MEDIUMS = { "cpc", "email", "social", "organic", "referral", "display" }
local CAMPAIGNS = { "q4-2025-routing-launch", "sla-benchmark-report", "revops-summit", "pricing-retarget" }
local PRODUCTS = { "routing", "scoring", "sla", "analytics", "api", "crm_sync", "enrichment" }
local TAGS = { "inbound", "enterprise", "trial", "newsletter", "event-2025", "partner-referral", "priority" }
local USE_CASES = {
   "Route inbound demo requests to the right territory team within minutes and report on SLA breaches",
   "Replace spreadsheet-based lead assignment; marketing and sales disagree on what an MQL is",
   "Consolidate leads from three CRMs after an acquisition and keep round-robin fair across regions",
   "Score webinar attendees and hand off only accounts matching the ideal customer profile",
}
local AGENTS = {
   "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
   "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
   "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
}
local NOTES = {
   "Asked on chat whether the SLA clock pauses outside business hours; wants a call with solutions engineering.",
   "Downloaded the routing whitepaper twice; account is an existing customer of a partner agency.",
   "Filled in the contact form from the pricing page, mentioned a tender deadline at the end of the quarter.",
   "Came from the regional event; interested in territory rules for DACH and a Salesforce integration.",
}
local SEGMENTS = { "smb", "mid_market", "enterprise", "strategic" }
local PAGES = { "/pricing", "/product/routing", "/blog/lead-sla", "/demo", "/customers", "/docs/api" }

local function pick(list)
   return list[math.random(#list)]
end

local function some(list, lo, hi)
   local chosen, seen = {}, {}
   for _ = 1, math.random(lo, hi) do
      local item = pick(list)
      if not seen[item] then
         seen[item] = true
         table.insert(chosen, q(item))
      end
   end
   return "[" .. table.concat(chosen, ",") .. "]"
end

-- One pool entry: the parts of a body that need not be unique, as prefix/tail around the ids.
local function profile()
   local first, last = pick(FIRST), pick(LAST)
   local company = pick(COMPANIES)
   local domain = company[2]
   if math.random() < 0.08 then
      domain = pick(FREE_MAIL) -- disqualified: free-mail domain
   end
   local seniority = pick(SENIORITY)
   if math.random() < 0.04 then
      seniority = { "student", "Working Student Marketing" } -- disqualified
   end
   local tags = some(TAGS, 1, 3)
   if math.random() < 0.03 then
      tags = '["inbound","competitor"]' -- disqualified
   end
   local place = pick(PLACES)
   local employees = math.floor(10 ^ (1 + math.random() * 3.7))
   local revenue = employees * math.random(60, 320) * 1000.0
   local stage = ""
   local r = math.random()
   if r < 0.10 then
      stage = ',"stage":"mql"' -- the source already qualified it: hand off and start the SLA clock
   elseif r < 0.13 then
      stage = ',"stage":"sql"'
   end
   local nullable_owner = math.random() < 0.5 and "null" or q("crm-user-" .. math.random(100, 999))
   local tail = table.concat({
      q("first_name") .. ":" .. q(first),
      q("last_name") .. ":" .. q(last),
      q("phone") .. ":" .. q(string.format("%s %07d", place[4], math.random(0, 9999999))),
      q("company") .. ":" .. q(company[1]),
      q("website") .. ":" .. q("https://www." .. company[2]),
      q("title") .. ":" .. q(seniority[2]),
      q("seniority") .. ":" .. q(seniority[1]),
      q("department") .. ":" .. q(pick(DEPARTMENTS)),
      q("industry") .. ":" .. q(pick(INDUSTRIES)),
      q("country") .. ":" .. q(place[1]),
      q("region") .. ":" .. q(place[2]),
      q("city") .. ":" .. q(place[3]),
      q("employees") .. ":" .. employees,
      q("annual_revenue") .. ":" .. string.format("%.2f", revenue),
      q("lead_source") .. ":" .. q(pick(LEAD_SOURCES)),
      q("utm_source") .. ":" .. q(pick(UTM_SOURCES)),
      q("utm_medium") .. ":" .. q(pick(UTM_MEDIUMS)),
      q("utm_campaign") .. ":" .. q(pick(CAMPAIGNS)),
      q("product_interest") .. ":" .. some(PRODUCTS, 1, 3),
      q("tags") .. ":" .. tags,
      q("consent_marketing") .. ":" .. (math.random() < 0.7 and "true" or "false"),
      q("attributes") .. ":{" .. table.concat({
         q("form_id") .. ":" .. q(string.format("form-%04d", math.random(1, 40))),
         q("landing_page") .. ":" .. q("https://www.leadrouter.example" .. pick(PAGES) .. "?ref=" .. pick(UTM_SOURCES)),
         q("external_score") .. ":" .. math.random(0, 100),
         q("budget_confirmed") .. ":" .. (math.random() < 0.4 and "true" or "false"),
         q("timeline_months") .. ":" .. math.random(1, 18),
         q("annual_budget_eur") .. ":" .. string.format("%.1f", math.random(5, 500) * 1000.0),
         q("crm_owner_hint") .. ":" .. nullable_owner,
         q("use_case") .. ":" .. q(pick(USE_CASES)),
         q("notes") .. ":" .. q(pick(NOTES)),
         q("user_agent") .. ":" .. q(pick(AGENTS)),
         q("referrer") .. ":" .. q("https://www." .. pick(UTM_SOURCES) .. ".com/search?q=lead+routing+sla"),
         q("segment") .. ":" .. q(pick(SEGMENTS)),
         q("linkedin_url") .. ":" .. q(string.format("https://www.linkedin.com/in/%s-%s-%06x", string.lower(first), string.lower(last), math.random(0, 2 ^ 24))),
         q("crm_campaign_id") .. ":" .. q(string.format("7015g%013dAAK", math.random(0, 2 ^ 31))),
         q("ip_country") .. ":" .. q(place[1]),
         q("gclid") .. ":" .. q(string.format("Cj0KCQiA%08x%08x", math.random(0, 2 ^ 31), math.random(0, 2 ^ 31))),
      }, ",") .. "}",
   }, ",") .. stage .. "}"
   local minute = math.random(0, 59)
   local prefix = string.format(
      '{"source":"%s","occurred_at":"2025-11-27T%02d:%02d:%02d.%03dZ",',
      pick(SOURCES), math.random(6, 20), minute, math.random(0, 59), math.random(0, 999)
   )
   return { prefix = prefix, email = string.lower(first .. "." .. last), domain = domain, tail = tail }
end

local POOL_SIZE = 997
local pool = {}
local head = ""
local parked = ""

function init(args)
   tag = args[1]
   per_thread = tonumber(args[2])
   finish_file = args[3]
   nthreads = tonumber(args[4])
   verifying = tid == 1 -- wrk calls request() once in the first thread to check the request's syntax
   sent, answered, ok, body_bytes = 0, 0, 0, 0
   finished = false
   t_start, t_end = nil, nil
   statuses = {}
   math.randomseed(tid * 7919 + 17)
   for i = 1, POOL_SIZE do
      pool[i] = profile()
   end
   local host = wrk.host .. (wrk.port and (":" .. wrk.port) or "")
   head = "POST /v1/leads HTTP/1.1\r\nHost: " .. host .. "\r\nContent-Type: application/json\r\nContent-Length: "
   parked = "GET /healthz HTTP/1.1\r\nHost: " .. host .. "\r\n" -- no blank line: never a whole request
end

local function build(n)
   local p = pool[n % POOL_SIZE + 1]
   return table.concat({
      p.prefix, '"external_id":"', tag, "-", tid, "-", n, '","event_id":"evt-', tag, "-", tid, "-", n,
      -- one person per lead: the service merges leads with the same e-mail across sources and runs
      '","email":"', p.email, ".", tag, "-", tid, "-", n, "@", p.domain, '",', p.tail,
   })
end

function request()
   if verifying then -- not sent: wrk only parses it
      verifying = false
      local body = build(0)
      return head .. #body .. "\r\n\r\n" .. body
   end
   if sent >= per_thread then
      return parked
   end
   if sent == 0 then
      t_start = now_s()
   end
   sent = sent + 1
   local body = build(sent)
   body_bytes = body_bytes + #body
   return head .. #body .. "\r\n\r\n" .. body
end

local function finish()
   t_end = now_s()
   finished = true
   -- One line per finished thread; whoever sees all lines is last and wakes wrk's main thread.
   local f = assert(io.open(finish_file, "a"))
   f:write(tid, "\n")
   f:close()
   local lines = 0
   for _ in io.lines(finish_file) do
      lines = lines + 1
   end
   if lines >= nthreads then
      ffi.C.kill(ffi.C.getpid(), SIGINT)
   end
   wrk.thread:stop()
end

function response(status, headers, body)
   answered = answered + 1
   statuses[status] = (statuses[status] or 0) + 1
   if status >= 200 and status < 300 then
      ok = ok + 1
   end
   if answered == per_thread then
      finish()
   end
end
