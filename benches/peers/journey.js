// k6 side of the journey (benches/peers/run.sh): login -> token, create an escrow -> id, read it
// back by id, pausing THINK_MIN..THINK_MAX seconds (uniform) after each step; 0..0 = flat out.
// env: BASE (target URL), VUS, DUR (e.g. 15s), THINK_MIN, THINK_MAX, SUMMARY (JSON file to write).
import http from 'k6/http';
import { check, sleep } from 'k6';

const B = __ENV.BASE;
const LO = parseFloat(__ENV.THINK_MIN || '0'), HI = parseFloat(__ENV.THINK_MAX || '0');

export const options = {
  // gracefulStop 0s: every user stops when the duration ends, as stampede's thinking users and
  // Locust's do (k6's default would let each iteration, think times included, run 30 s more).
  scenarios: { j: { executor: 'constant-vus', vus: parseInt(__ENV.VUS), duration: __ENV.DUR, gracefulStop: '0s' } },
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
};

const pause = () => { if (HI > 0) sleep(LO + (HI - LO) * Math.random()); };

export default function () {
  const l = http.post(`${B}/auth/login`, JSON.stringify({ email: `a${__VU}@x.test`, password: 'pw' }),
    { headers: { 'Content-Type': 'application/json' } });
  check(l, { login: (r) => r.status === 200 });
  const h = { Authorization: `Bearer ${l.json('token')}`, 'Content-Type': 'application/json' };
  pause();
  const c = http.post(`${B}/escrows`, JSON.stringify({ property_address: `${__VU}-${__ITER} Test St`, purchase_price: 400000 }),
    { headers: h });
  check(c, { created: (r) => r.status === 201 });
  pause();
  check(http.get(`${B}/escrows/${c.json('id')}`, { headers: h, tags: { name: '/escrows/{id}' } }),
    { detail: (r) => r.status === 200 });
  pause();
}

// The numbers run.sh reads (requests, p95, failures) as JSON; the usual text summary too.
export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
