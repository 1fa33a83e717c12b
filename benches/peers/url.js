// k6 side of the one-URL HTTP/2 case (benches/peers/run.sh): VUS users each sending GET URL flat
// out for DUR. k6 speaks h2 only over TLS, chosen by ALPN (Go's client; no h2c), one request at a
// time per VU: the `CONNSx1` shapes of H2_SHAPES. setup() refuses to go on unless the server
// answered over HTTP/2, so the row is never HTTP/1.1 by accident.
// env: URL (https://...), VUS, DUR (e.g. 15s), SUMMARY (JSON file to write).
import http from 'k6/http';
import exec from 'k6/execution';

export const options = {
  scenarios: { u: { executor: 'constant-vus', vus: parseInt(__ENV.VUS), duration: __ENV.DUR, gracefulStop: '0s' } },
  // The script's throwaway certificate (stampede and h2load are given it, or do not check).
  insecureSkipTLSVerify: true,
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  const r = http.get(__ENV.URL);
  if (r.proto !== 'HTTP/2.0') exec.test.abort(`the server answered over ${r.proto}, not HTTP/2`);
}

export default function () {
  http.get(__ENV.URL);
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
