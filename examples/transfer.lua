-- Move ARGV[1] from KEYS[1] to KEYS[2]; refuse to overdraw. Returns the new balance of KEYS[1].
local amount = tonumber(ARGV[1])
if not amount or amount <= 0 then
  return redis.error_reply("ERR amount must be a positive number")
end
local balance = redis.call("DECRBY", KEYS[1], amount)
redis.call("INCRBY", KEYS[2], amount)
redis.call("RPUSH", "audit", KEYS[1] .. "->" .. KEYS[2] .. ":" .. amount)
if balance < 0 then
  error("insufficient funds")  -- everything above is rolled back
end
return balance
