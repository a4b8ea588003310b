-- Segment messages for tools/bench/http: the same shapes and mix as `cdp-bench ingest`
-- (tools/bench/bench_ingest.c), so the HTTP figures compare with the embedded ones.
local M = {}

local channels = {"web", "ios", "pos", "call_center"}

-- person p (0-based), message number n, message id id, roll 0..99 picks the type:
-- 60 track, 25 identify, 10 page, 5 alias.
function M.message(p, n, id, roll)
   local channel = channels[n % 4 + 1]
   if roll < 60 then
      return string.format(
         '{"type":"track","userId":"user-%d","event":"%s","messageId":"%s",' ..
         '"timestamp":"2026-11-%02dT10:%02d:00Z","properties":{"product_id":"sku-%d",' ..
         '"price":%d.99,"currency":"EUR","category":"shoes"},"context":{"channel":"%s",' ..
         '"locale":"de-DE","library":{"name":"analytics-node","version":"2.1.0"},' ..
         '"ip":"203.0.113.7","userAgent":"Mozilla/5.0 (X11; Linux x86_64)"}}',
         p, n % 10 == 0 and "Order Completed" or "Product Viewed", id, 1 + n % 28, n % 60,
         n % 5000, 10 + n % 90, channel)
   elseif roll < 85 then
      return M.identify(p, n, id, channel)
   elseif roll < 95 then
      return string.format(
         '{"type":"page","anonymousId":"anon-%d","name":"Product","messageId":"%s",' ..
         '"timestamp":"2026-11-%02dT12:00:00Z","properties":{"path":"/p/%d",' ..
         '"url":"https://shop.example/p/%d","title":"Shoes"},"context":{"channel":"web"}}',
         p, id, 1 + n % 28, n % 5000, n % 5000)
   else
      return string.format(
         '{"type":"alias","previousId":"anon-%d","userId":"user-%d","messageId":"%s",' ..
         '"timestamp":"2026-11-%02dT13:00:00Z"}', p, p, id, 1 + n % 28)
   end
end

function M.identify(p, n, id, channel)
   return string.format(
      '{"type":"identify","userId":"user-%d","anonymousId":"anon-%d","messageId":"%s",' ..
      '"timestamp":"2026-11-%02dT11:00:00Z","traits":{"email":"person%d@shop.example",' ..
      '"first_name":"Kim","last_name":"Berg","plan":"gold","address":{"city":"Berlin",' ..
      '"country":"DE"}%s},"context":{"channel":"%s","library":{"name":"analytics-node"}}}',
      p, p, id, 1 + n % 28, p, n % 4 == 0 and ',"phone":"+49 30 1234567"' or "",
      channel or "web")
end

-- "RESULT <requests/s> <p50 ms> <p99 ms> <non-2xx> <socket errors>" for run.sh.
function M.report(summary, latency)
   local seconds = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n", summary.requests / seconds,
                          latency:percentile(50) / 1000, latency:percentile(99) / 1000,
                          e.status, e.connect + e.read + e.write + e.timeout))
end

return M
