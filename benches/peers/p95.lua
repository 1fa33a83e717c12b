-- wrk prints no 95th percentile of its own; this prints it (microseconds) when the run is done.
-- Only done() is defined, so wrk keeps its static request and its fast path.
done = function(summary, latency, requests)
  io.write(string.format("p95_us %d\n", latency:percentile(95)))
end
