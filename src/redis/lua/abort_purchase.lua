-- A purchase could not write its tickets: the hold goes back to 'held' so that a retry can work.
-- KEYS[1] reservation hash.
if redis.call('HGET', KEYS[1], 'p') == 'purchasing' then
  redis.call('HSET', KEYS[1], 'p', 'held')
end
return 'ok'
