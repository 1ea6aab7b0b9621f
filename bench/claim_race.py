#!/usr/bin/env python3
"""claim-race case of bench/run.sh: 200 concurrent claims of one approved supplier invoice by two
accountants (WF-INV-4). Sets up an organisation with its pools, a supplier, and per round one
invoice taken and approved by a head; then 200 threads wait on a barrier and all POST
/supplier-invoices/{id}/actions/claim at once (100 per accountant, each on its own connection).
Measures the time from the barrier until every answer is in, and counts 200s and 409s.

Usage: claim_race.py BASE ADMIN_EMAIL ADMIN_PASSWORD ROUNDS CLAIMS
Prints one JSON object: {"rounds": [...], "invoice_ids": [...], "supplier_email": ...}.
Standard library only.
"""
import http.client
import json
import sys
import threading
import time
import urllib.parse
import uuid

BASE, ADMIN_EMAIL, ADMIN_PASSWORD = sys.argv[1], sys.argv[2], sys.argv[3]
ROUNDS, CLAIMS = int(sys.argv[4]), int(sys.argv[5])
HOST = urllib.parse.urlparse(BASE).netloc
SUPPLIER_EMAIL = f"supplier-{uuid.uuid4().hex[:8]}@bench.example"


def call(method, path, token=None, body=None, headers=None, raw=None, expect=None):
    conn = http.client.HTTPConnection(HOST, timeout=60)
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    conn.request(method, "/api/v1" + path, body=data, headers=h)
    res = conn.getresponse()
    text = res.read().decode()
    conn.close()
    if expect is not None and res.status != expect:
        raise SystemExit(f"{method} {path} answered {res.status} (expected {expect}): {text[:800]}")
    return res.status, (json.loads(text) if text else None)


def login(email, password):
    return call("POST", "/auth/login", body={"email": email, "password": password}, expect=200)[1]["access_token"]


def user(admin, name, roles):
    email = f"{name}-{uuid.uuid4().hex[:8]}@bench.example"
    uid = call("POST", "/users", admin, {"email": email, "name": name, "password": ADMIN_PASSWORD, "roles": roles}, expect=201)[1]["id"]
    return uid, login(email, ADMIN_PASSWORD)


def upload(token, entity_type, entity_id, name):
    boundary = uuid.uuid4().hex
    parts = []
    for k, v in (("entity_type", entity_type), ("entity_id", entity_id), ("document_type", "invoice_scan")):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'.encode()
                 + b"%PDF-1.4\n% bench\n\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return call("POST", "/files", token, raw=b"".join(parts),
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}, expect=201)[1]["id"]


def main():
    admin = login(ADMIN_EMAIL, ADMIN_PASSWORD)
    code = uuid.uuid4().hex[:6].upper()
    org = call("POST", "/organizations", admin, {
        "name": f"ООО «Стенд {code}»", "short_name": f"Стенд {code}", "code": code,
        "inn": "7707083893", "kpp": "773601001", "ogrn": "1027700132195", "vat_payer": True,
        "legal_address": "Москва", "bank_accounts": []}, expect=201)[1]["id"]
    manager, manager_t = user(admin, "manager", ["sales_manager"])
    head, head_t = user(admin, "head", ["head"])
    acc_a, acc_a_t = user(admin, "acc-a", ["accountant"])
    acc_b, acc_b_t = user(admin, "acc-b", ["accountant"])
    call("PUT", f"/organizations/{org}/pools/decision_makers", admin, {"member_ids": [head]}, expect=200)
    call("PUT", f"/organizations/{org}/pools/accountants", admin, {"member_ids": [acc_a, acc_b]}, expect=200)
    company = call("POST", "/companies", manager_t, {"name": f"Поставщик {code}"}, expect=201)[1]["id"]
    supplier = call("POST", "/legal-entities", manager_t, {
        "company_id": company, "kind": "legal_entity", "full_name": "ООО «Василёк»", "short_name": "Василёк",
        "inn": "7702000029", "kpp": "770201001", "legal_address": "Москва"}, expect=201)[1]["id"]
    rounds, ids = [], []
    for r in range(ROUNDS):
        file_id = upload(manager_t, "company", company, f"invoice-{r}.pdf")
        inv = call("POST", "/supplier-invoices", manager_t, {
            "organization_id": org, "supplier_legal_entity_id": supplier, "supplier_email": SUPPLIER_EMAIL,
            "number": f"B-{code}-{r}", "invoice_date": "2026-11-20", "amount": "125000.50",
            "file_ids": [file_id]}, expect=201)[1]["id"]
        call("POST", f"/supplier-invoices/{inv}/actions/take", head_t, {}, expect=200)
        call("POST", f"/supplier-invoices/{inv}/actions/approve", head_t, {}, expect=200)
        ids.append(inv)
        barrier = threading.Barrier(CLAIMS + 1)
        statuses, finished = [], []
        lock = threading.Lock()

        def claim(token):
            conn = http.client.HTTPConnection(HOST, timeout=60)
            conn.connect()  # connected before the start, so the race is about the claim alone
            barrier.wait()
            conn.request("POST", f"/api/v1/supplier-invoices/{inv}/actions/claim", body=b"{}",
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            status = conn.getresponse().status
            with lock:
                statuses.append(status)
                finished.append(time.monotonic())
            conn.close()

        threads = [threading.Thread(target=claim, args=(acc_a_t if i % 2 == 0 else acc_b_t,)) for i in range(CLAIMS)]
        for t in threads:
            t.start()
        barrier.wait()
        t0 = time.monotonic()
        for t in threads:
            t.join()
        settled_ms = (max(finished) - t0) * 1000
        rounds.append({
            "settled_ms": round(settled_ms, 1),
            "ok": statuses.count(200),
            "conflict": statuses.count(409),
            "other": len([s for s in statuses if s not in (200, 409)]),
        })
    print(json.dumps({"rounds": rounds, "invoice_ids": ids, "supplier_email": SUPPLIER_EMAIL}))


main()
