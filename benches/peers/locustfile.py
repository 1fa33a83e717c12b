# Locust side of the journey (benches/peers/run.sh): login -> token, create an escrow -> id, read
# it back by id, pausing THINK_MIN..THINK_MAX seconds (uniform) after each step; 0..0 = flat out.
# FastHttpUser (geventhttpclient) is Locust's fast client: the fairest peer for a throughput test.
# env: THINK_MIN, THINK_MAX (seconds)
import itertools
import os
import random

import gevent
from locust import FastHttpUser, constant, task

LO = float(os.environ.get("THINK_MIN", "0"))
HI = float(os.environ.get("THINK_MAX", "0"))
NUMBERS = itertools.count(1)


def pause():
    if HI > 0:
        gevent.sleep(random.uniform(LO, HI))


class Agent(FastHttpUser):
    wait_time = constant(0)  # the journey pauses after each step itself, the last one included

    def on_start(self):
        self.n = next(NUMBERS)
        self.iter = 0

    @task
    def journey(self):
        self.iter += 1
        with self.client.post("/auth/login", json={"email": f"a{self.n}@x.test", "password": "pw"},
                              catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"login: status {r.status_code}")
                return
            token = r.json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        pause()
        with self.client.post("/escrows", headers=h, catch_response=True,
                              json={"property_address": f"{self.n}-{self.iter} Test St", "purchase_price": 400000}) as r:
            if r.status_code != 201:
                r.failure(f"create: status {r.status_code}")
                return
            id_ = r.json()["id"]
        pause()
        with self.client.get(f"/escrows/{id_}", headers=h, name="/escrows/{id}", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"detail: status {r.status_code}")
        pause()
