// Package capturescript holds the text of the front end's capture script,
// documented in host/frontend/script.go, for the front end and for the
// capture benchmark (which sends it to Redis directly, as a baseline).
package capturescript

// Script is the capture script.
const Script = `-- cogs capture v2
local m = tonumber(ARGV[1])
local mode = ARGV[3]
local function entry(key, kind)
  if kind == 'hash' then
    -- The usual case, without TYPE: a watched hash key holds a hash, or
    -- nothing (Redis keeps no empty hash); another type fails HGETALL.
    local h = redis.pcall('HGETALL', key)
    if h.err == nil then
      if #h == 0 then return {'op', 'delete', 'key', key, 'kind', kind} end
      for j = 1, #h do h[j] = #h[j] .. ':' .. h[j] end
      return {'op', 'set', 'key', key, 'kind', kind, 'data', table.concat(h)}
    end
  end
  local t = redis.call('TYPE', key)['ok']
  if t == 'none' then
    return {'op', 'delete', 'key', key, 'kind', kind}
  elseif t == 'string' and kind ~= 'hash' then
    return {'op', 'set', 'key', key, 'kind', kind, 'data', redis.call('GET', key)}
  elseif t == 'ReJSON-RL' and kind == 'json' then
    return {'op', 'set', 'key', key, 'kind', kind, 'data', redis.call('JSON.GET', key)}
  end
  return {'op', 'set', 'key', key, 'kind', kind, 'type', t}
end
if string.sub(mode, 1, 1) == '#' then
  local op, uuid, key = string.sub(mode, 2, 2), string.sub(mode, 3), KEYS[1]
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= 'hash' then
    return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value')
  end
  local r
  if #ARGV > 6 then
    r = redis.pcall(unpack(ARGV, 5))
    if type(r) == 'table' and r.err then return r end
  elseif string.lower(ARGV[5]) == 'hmset' then
    r = redis.status_reply('OK')
  else
    r = 0
  end
  if op == '-' or op == '~' then redis.call('DEL', key) end
  local ack = '{' .. key .. '}' .. uuid
  if op == '+' or op == '-' then
    if uuid ~= '' then
      redis.call('XADD', ack, '*', 'status', 'done')
      redis.call('EXPIRE', ack, 3600)
    end
    return r
  end
  local e = entry(key, ARGV[4])
  if uuid ~= '' then e[#e+1] = 'ack'; e[#e+1] = ack end
  if ARGV[2] ~= '' then redis.call('SELECT', ARGV[2]) end
  redis.call('XADD', KEYS[2], '*', unpack(e))
  return r
end
local existed
if mode == 'existed' then
  existed = {}
  for i = 1, m do existed[i] = redis.call('EXISTS', KEYS[2*i-1]) end
end
local r = redis.pcall(unpack(ARGV, 4 + m))
if type(r) == 'table' and r.err then return r end
if (mode == 'nonzero' and r == 0) or (mode == 'notnil' and r == false)
    or (mode == 'nil' and r ~= false) then return r end
if m == 1 then
  if existed == nil or existed[1] == 1 then
    local e = entry(KEYS[1], ARGV[4])
    if ARGV[2] ~= '' then redis.call('SELECT', ARGV[2]) end
    redis.call('XADD', KEYS[2], '*', unpack(e))
  end
  return r
end
local out = {}
for i = 1, m do
  if existed == nil or existed[i] == 1 then
    out[#out+1] = {KEYS[2*i], entry(KEYS[2*i-1], ARGV[3+i])}
  end
end
if #out > 0 then
  if ARGV[2] ~= '' then redis.call('SELECT', ARGV[2]) end
  for _, o in ipairs(out) do redis.call('XADD', o[1], '*', unpack(o[2])) end
end
return r
`
