-- wrk script: requests as the signed-in members (rotating through all of them), over a list of requests.
-- Arguments: the sessions file (cookie TAB csrf token per member), the requests file (one per line:
-- METHOD TAB path TAB kind), the ETag for conditional feed requests, the User-Agent the members signed in with.
-- kind: "page" (a plain GET), "conditional" (If-None-Match), "rsvp" and "vote" (htmx posts, as htmx sends
-- them: HX-Request, HX-Current-URL, HX-Target and HX-Trigger, the form's fields; each member's answer flips
-- from one post to the next, so every post changes something).
local members, requests_, counter = {}, {}, 0
local etag, agent, host
local flipped = {}

function init(args)
  for line in io.lines(args[1]) do table.insert(members, line) end
  for line in io.lines(args[2]) do
    local method, path, kind = line:match("([^\t]*)\t([^\t]*)\t(.*)")
    table.insert(requests_, {method = method, path = path, kind = kind})
  end
  etag, agent, host = args[3], args[4], args[5]
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

function request()
  counter = counter + 1
  local m = math.random(#members)
  local cookie, token = members[m]:match("([^\t]*)\t(.*)")
  local r = requests_[math.random(#requests_)]
  -- The browser the members signed in with: sign-in protection ties a session to it.
  local headers = {["Cookie"] = cookie, ["User-Agent"] = agent}
  local body = nil
  if r.kind == "rsvp" or r.kind == "vote" then
    local key = r.path .. "#" .. m
    flipped[key] = not flipped[key]
    local target = r.path:match("/meetings/(%d+)/rsvp") and ("rsvp-" .. r.path:match("/meetings/(%d+)/rsvp"))
                   or ("vote-" .. (r.path:match("/topics/(%d+)/vote") or ""))
    local page = r.kind == "rsvp" and r.path:gsub("/rsvp$", "") or "/topics/"
    headers["HX-Request"] = "true"
    headers["HX-Current-URL"] = host .. page
    headers["HX-Target"] = target
    headers["HX-Trigger"] = target
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    if r.kind == "rsvp" then
      headers["HX-Trigger-Name"] = "answer"
      body = "csrf_token=" .. token .. "&next=" .. page .. "&answer=" .. (flipped[key] and "yes" or "maybe")
    else
      headers["HX-Trigger-Name"] = "vote"
      body = "csrf_token=" .. token .. "&next=" .. page .. "&vote=" .. (flipped[key] and "on" or "off")
    end
  elseif r.kind == "conditional" then
    headers["If-None-Match"] = etag
  end
  return wrk.format(r.method, r.path, headers, body)
end
