-- wrk script: each request as one of the signed-in members (rotating), with their CSRF token; RSVP and
-- "me too" posts alternate their answer so every post changes something; "conditional" sends If-None-Match.
local lines, counter = {}, 0
local method, kind, etag, agent

function init(args)
  for line in io.lines(args[1]) do table.insert(lines, line) end
  method, kind, etag, agent = args[2], args[3], args[4], args[5]
end

function request()
  counter = counter + 1
  local cookie, token = lines[(counter % #lines) + 1]:match("([^\t]*)\t(.*)")
  -- The browser the members signed in with (bench/run.py): sign-in protection ties a session to it, and a
  -- session seen from another would have its cookie re-issued on every response.
  local headers = {["Cookie"] = cookie, ["X-CSRFToken"] = token, ["User-Agent"] = agent}
  local body = nil
  if kind == "rsvp" then
    body = (counter % 2 == 0) and "answer=yes" or "answer=maybe"
  elseif kind == "vote" then
    body = (counter % 2 == 0) and "vote=on" or "vote=off"
  elseif kind == "conditional" then
    headers["If-None-Match"] = etag
  end
  if body then headers["Content-Type"] = "application/x-www-form-urlencoded" end
  return wrk.format(method, nil, headers, body)
end
